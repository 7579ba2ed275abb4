#!/usr/bin/env python3
"""Helpers for bench/run: talk GraphQL to the running server (standard library only).

  tools.py walk     URL TOKEN OUTDIR      walk the whole catalog, write Lua data files
                                          (raw_product_ids.lua: the decoded numbers,
                                          for the ceiling's C1 and C2)
  tools.py login    URL OUT PREFIX FROM TO PASSWORD [THREADS]
                                          log in PREFIX{FROM..TO-1}@example.com, one
                                          access token per line in OUT
  tools.py register URL EMAIL PASSWORD    register a user through the API
  tools.py token    URL EMAIL PASSWORD    print one access token
  tools.py free-port                      print a free TCP port on 127.0.0.1
  tools.py cpu-watch SERVER_PID OUT       until SIGTERM, then CPU used meanwhile in %
                                          of one core: "server / postgres / wrk / other"
  tools.py event-stream URL TOKEN N AFTER OUT
                                          N WebSocket subscribers of orderEvents(after:
                                          AFTER); writes "ready" to OUT once all are
                                          subscribed, and on SIGTERM the events each
                                          received, one count per line
  tools.py otlp-sink PORT                 an OTLP/HTTP endpoint that takes every trace
                                          export; on SIGTERM prints how many it got
"""

import asyncio
import base64
import http.client
import json
import signal
import struct
import os
import socket
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

LOGIN = ("mutation($i: LoginInput!) { login(input: $i) "
         "{ accessToken userErrors { code message } } }")
REGISTER = ("mutation($i: RegisterInput!) { register(input: $i) "
            "{ accessToken user { id } userErrors { code message } } }")
PAGE = ("query($after: String) { products(first: 100, after: $after) "
        "{ edges { cursor node { id name price stock } } "
        "pageInfo { endCursor hasNextPage } } }")
# The same page with each product's variants: servers with catalog v2 (variants and
# categories); an older server answers it with a GraphQL error, and gets PAGE.
PAGE_V2 = ("query($after: String) { products(first: 100, after: $after) "
           "{ edges { cursor node { id name price stock variants { id stock } } } "
           "pageInfo { endCursor hasNextPage } } }")
CATEGORY_TREE = "{ categories { id children { id children { id } } } }"

_local = threading.local()


def _conn(url):
    """One keep-alive connection per thread."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        _local.conn = conn
    return conn


def gql(url, query, variables=None, token=None):
    body = json.dumps({"query": query, "variables": variables or {}})
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    path = urllib.parse.urlsplit(url).path or "/graphql"
    for attempt in range(3):
        conn = _conn(url)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")
            out = json.loads(data)
            if out.get("errors"):
                raise RuntimeError(f"GraphQL errors: {out['errors']}")
            return out["data"]
        except (http.client.HTTPException, ConnectionError, OSError):
            conn.close()
            _local.conn = None
            if attempt == 2:
                raise
            time.sleep(0.2)


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_lua_list(path, values):
    with open(path, "w") as f:
        f.write("return {\n")
        for v in values:
            f.write(lua_string(v) + ",\n")
        f.write("}\n")


def raw_id(global_id):
    """The number in a global ID, standard base64 of "Product:<number>"."""
    kind, _, number = base64.b64decode(global_id, validate=True).decode().partition(":")
    if kind != "Product" or not number.isdigit():
        raise ValueError(f"not a product's global ID: {global_id!r}")
    return int(number)


def has_catalog_v2(url, token):
    try:
        gql(url, PAGE_V2, {"after": None}, token)
        return True
    except RuntimeError:
        return False


def walk(url, token, outdir):
    """Every product's edge cursor, id and stock, paging with first: 100; with catalog
    v2 also the variants to add to carts and every category id."""
    v2 = has_catalog_v2(url, token)
    cursors, ids, stocked, stocked_variants = [], [], [], []
    after, pages = None, 0
    while True:
        data = gql(url, PAGE_V2 if v2 else PAGE, {"after": after}, token)["products"]
        pages += 1
        for edge in data["edges"]:
            node = edge["node"]
            cursors.append(edge["cursor"])
            ids.append(node["id"])
            # addToCart targets: stock high enough that a few units per cart line can
            # never hit INSUFFICIENT_STOCK (per variant where there are variants).
            for variant in node.get("variants") or [{"id": "", "stock": node["stock"]}]:
                if variant["stock"] >= 50:
                    stocked.append(node["id"])
                    stocked_variants.append(variant["id"])
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    categories = []
    if v2:
        def collect(nodes):
            for node in nodes:
                categories.append(node["id"])
                collect(node.get("children") or [])
        collect(gql(url, CATEGORY_TREE, {}, token)["categories"])
    write_lua_list(f"{outdir}/cursors.lua", cursors)
    write_lua_list(f"{outdir}/product_ids.lua", ids)
    write_lua_list(f"{outdir}/stocked_ids.lua", stocked)
    write_lua_list(f"{outdir}/stocked_variant_ids.lua", stocked_variants)
    write_lua_list(f"{outdir}/category_ids.lua", categories)
    # Integers, not strings: the ceiling's paths take the database's ids. A server
    # whose IDs are not of this shape gets no file (bench/run then skips the ceiling).
    try:
        raw = [raw_id(i) for i in ids]
        with open(f"{outdir}/raw_product_ids.lua", "w") as f:
            f.write("return {\n" + "".join(f"{n},\n" for n in raw) + "}\n")
    except ValueError as e:
        print(f"no raw_product_ids.lua: {e}")
    print(f"walked {len(ids)} products in {pages} pages; {len(stocked)} "
          f"{'variants' if v2 else 'products'} with stock >= 50; {len(categories)} categories")


def login_one(url, email, password):
    payload = gql(url, LOGIN, {"i": {"email": email, "password": password}})["login"]
    if payload["userErrors"] or not payload["accessToken"]:
        raise RuntimeError(f"login {email}: {payload['userErrors']}")
    return payload["accessToken"]


def login_many(url, out, prefix, first, last, password, threads=16):
    emails = [f"{prefix}{i}@example.com" for i in range(first, last)]
    started = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        tokens = list(pool.map(lambda e: login_one(url, e, password), emails))
    with open(out, "w") as f:
        for t in tokens:
            f.write(t + "\n")
    took = time.time() - started
    print(f"logged in {len(tokens)} users ({prefix}{first}..{prefix}{last - 1}) "
          f"in {took:.1f} s ({len(tokens) / max(took, 1e-9):.0f}/s)")


def register(url, email, password):
    payload = gql(url, REGISTER, {"i": {
        "email": email, "password": password, "passwordConfirmation": password,
        "firstName": "Bench", "lastName": "Login"}})["register"]
    if payload["userErrors"]:
        raise RuntimeError(f"register {email}: {payload['userErrors']}")
    print(f"registered {email}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def _ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def _busy():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7]


def cpu_watch(server_pid, out):
    """Until SIGTERM: polls the server, every postgres process and every wrk, 4 times
    a second, keeping each process's first and last tick counts (a process seen late
    counts from 0). Polling matters: postgres backends come and go (the server discards
    a pooled connection whose transaction a departing client cancelled), and a process
    that has exited can no longer be read. Then writes "server / postgres / wrk / other"
    in % of one core to OUT; "other" is the rest of the machine's busy time (anything
    else running), less this watcher's own."""
    import signal
    hz = os.sysconf("SC_CLK_TCK")
    started, busy0 = time.time(), _busy()
    first, last, group = {}, {}, {}

    def poll(initial=False):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            if entry == server_pid:
                kind = "server"
            else:
                try:
                    with open(f"/proc/{entry}/comm") as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                kind = {"postgres": "postgres", "wrk": "wrk"}.get(comm)
                if kind is None:
                    continue
            t = _ticks(entry)
            if t is None:
                continue
            if entry not in first:
                first[entry] = t if initial else 0
                group[entry] = kind
            last[entry] = t

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    poll(initial=True)
    while not stop:
        time.sleep(0.25)
        poll()
    poll()
    secs = time.time() - started
    used = {"server": 0, "postgres": 0, "wrk": 0}
    for pid, kind in group.items():
        used[kind] += last[pid] - first[pid]
    me = os.times()
    own = (me.user + me.system) * hz
    other = max(_busy() - busy0 - sum(used.values()) - own, 0)
    pct = lambda ticks: f"{ticks / hz / secs * 100:.0f}"
    with open(out, "w") as f:
        f.write(f"{pct(used['server'])} / {pct(used['postgres'])} / {pct(used['wrk'])} / {pct(other)}\n")


EVENTS = "subscription($a: String) { orderEvents(after: $a) { cursor } }"


async def _read_frame(reader):
    """One WebSocket frame from the server (never masked): (opcode, payload)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return head[0] & 0x0F, await reader.readexactly(length)


def _frame(opcode, payload):
    """A client frame: always masked."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def _subscriber(host, port, token, after, counts, index, subscribed):
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /graphql/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
    await reader.readuntil(b"\r\n\r\n")
    send = lambda message: writer.write(_frame(1, json.dumps(message).encode()))
    send({"type": "connection_init", "payload": {"authorization": "Bearer " + token}})
    while json.loads((await _read_frame(reader))[1])["type"] != "connection_ack":
        pass
    send({"id": "1", "type": "subscribe",
          "payload": {"query": EVENTS, "variables": {"a": after}}})
    subscribed()
    while True:
        opcode, payload = await _read_frame(reader)
        if opcode == 1:
            if b'"next"' in payload:
                counts[index] += 1
            elif b'"ping"' in payload:
                send({"type": "pong"})
        elif opcode == 9:
            writer.write(_frame(10, payload))
        elif opcode == 8:
            return


def event_stream(url, token, n, after, out):
    parts = urllib.parse.urlsplit(url)
    n = int(n)
    counts = [0] * n

    async def run():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        ready = [0]

        def subscribed():
            ready[0] += 1
            if ready[0] == n:
                # Subscribing is answered by nothing: give the server a moment to start
                # the streams, then say so.
                asyncio.get_running_loop().call_later(
                    1.0, lambda: open(out, "w").write("ready\n"))

        tasks = [asyncio.create_task(_subscriber(parts.hostname, parts.port, token, after,
                                                 counts, i, subscribed)) for i in range(n)]
        await stop.wait()
        for task in tasks:
            task.cancel()

    asyncio.run(run())
    with open(out, "w") as f:
        f.write("\n".join(str(c) for c in counts) + "\n")


def otlp_sink(port):
    """An OTLP/HTTP endpoint that takes every export and answers an empty success, so
    that traces cost the server what sending them costs. Prints its count on SIGTERM."""
    import http.server
    import signal
    import threading

    received = {"requests": 0, "bytes": 0}
    lock = threading.Lock()

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                received["requests"] += 1
                received["bytes"] += len(body)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink)

    def stop(*_):
        print(f"{received['requests']} exports, {received['bytes']:,} bytes", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "walk":
        walk(*args)
    elif cmd == "login":
        url, out, prefix, first, last, password = args[:6]
        threads = int(args[6]) if len(args) > 6 else 16
        login_many(url, out, prefix, int(first), int(last), password, threads)
    elif cmd == "register":
        register(*args)
    elif cmd == "token":
        print(login_one(*args))
    elif cmd == "free-port":
        free_port()
    elif cmd == "cpu-watch":
        cpu_watch(*args)
    elif cmd == "event-stream":
        event_stream(*args)
    elif cmd == "otlp-sink":
        otlp_sink(int(args[0]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
