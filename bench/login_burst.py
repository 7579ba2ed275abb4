"""A burst of 50 concurrent logins (bcrypt cost 12) beside a stream of `me` queries:
how much do the logins delay the queries? Prints medians and p99 of `me` latency
before and during the burst."""
import json, os, statistics, subprocess, sys, tempfile, threading, time, urllib.request

binary = sys.argv[1]
port = 18431
url = f"http://127.0.0.1:{port}/graphql"
tmp = tempfile.mkdtemp()
env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp}/shop.db", BIND_ADDR=f"127.0.0.1:{port}",
           JWT_SECRET="x" * 40, BCRYPT_COST="12", DATA_DIR=tmp, RATE_LIMIT_PER_ADDRESS="0",
           RATE_LIMIT_LOGIN_FAILURES="0", RUST_LOG="warn")
server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)

def gql(query, variables=None, token=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return json.load(r)

try:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz"); break
        except Exception:
            time.sleep(0.1)
    pw = "correct horse battery"
    reg = gql("mutation($i: RegisterInput!) { register(input: $i) { accessToken } }",
              {"i": {"email": "a@example.com", "password": pw, "passwordConfirmation": pw, "firstName": "A", "lastName": "B"}})
    token = reg["data"]["register"]["accessToken"]
    me = lambda: gql("{ me { id email } }", token=token)
    def sample(n=None, until=None):
        out = []
        while (n is not None and len(out) < n) or (until is not None and not until.is_set()):
            t = time.perf_counter(); me(); out.append((time.perf_counter() - t) * 1000)
        return out
    sample(50)
    base = sample(300)
    done = threading.Event()
    def login():
        gql("mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {"i": {"email": "a@example.com", "password": pw}})
    threads = [threading.Thread(target=login) for _ in range(50)]
    t0 = time.perf_counter()
    for t in threads: t.start()
    waiter = threading.Thread(target=lambda: ([t.join() for t in threads], done.set()))
    waiter.start()
    during = sample(until=done)
    burst = time.perf_counter() - t0
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
    print(f"me before burst: n={len(base)} median={statistics.median(base):.2f} ms p99={q(base, .99):.2f} ms")
    print(f"me during burst: n={len(during)} median={statistics.median(during):.2f} ms p99={q(during, .99):.2f} ms max={max(during):.2f} ms")
    print(f"50 logins at cost 12 took {burst:.2f} s")
finally:
    server.terminate()
