"""Peak memory of the server for hostile documents: a 1 MB query of 94,000 repeated
fields (once, then 8 at once), the largest document the limits accept (10,000 tokens),
and list literals nested 2,000 deep. Prints the process's peak RSS (VmHWM) after each
step, on SQLite. Usage: python3 bench/request_memory.py target/release/mini-ecommerce"""
import json, os, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request

binary = sys.argv[1]
port = 18433
url = f"http://127.0.0.1:{port}/graphql"
tmp = tempfile.mkdtemp()
env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp}/shop.db", BIND_ADDR=f"127.0.0.1:{port}",
           JWT_SECRET="x" * 40, DATA_DIR=tmp, RUST_LOG="warn")
server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)


def peak_mb():
    with open(f"/proc/{server.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def post(query):
    body = json.dumps({"query": query}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            answer = json.load(r)
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    errors = answer.get("errors") or [{}]
    return errors[0].get("extensions", {}).get("code", "ok")


def eight_at_once(query):
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(post(query))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(set(answers))


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz")
            break
        except Exception:
            time.sleep(0.1)
    post("{ __typename }")
    print(f"started, one small query: peak {peak_mb():.1f} MB")
    repeated = "{ " + "me { id } " * 94_000 + "}"
    print(f"1 MB, 94,000 repeated fields ({len(repeated):,} bytes): {post(repeated)}; peak {peak_mb():.1f} MB")
    print(f"8 of them at once: {eight_at_once(repeated)}; peak {peak_mb():.1f} MB")
    largest = "{ " + "__typename " * 9_990 + "}"
    print(f"the largest accepted document, 9,992 tokens ({len(largest):,} bytes): {post(largest)}; peak {peak_mb():.1f} MB")
    print(f"8 of them at once: {eight_at_once(largest)}; peak {peak_mb():.1f} MB")
    deep = "{ products(filter: {search: " + "[" * 2000 + '"x"' + "]" * 2000 + "}) { totalCount } }"
    print(f"a list literal 2,000 deep: {post(deep)}; peak {peak_mb():.1f} MB; server alive: {server.poll() is None}")
finally:
    server.terminate()
