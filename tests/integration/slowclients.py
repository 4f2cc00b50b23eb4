#!/usr/bin/env python3
"""A slow-client attack on `tisbackup serve`, and a normal client beside it.

Usage: slowclients.py PORT SOCKETS ADDRESSES REQUESTS [USER:PASSWORD]

SOCKETS connections, spread over ADDRESSES loopback source addresses
(127.0.0.2, 127.0.0.3, ..., 127.0.1.0, ...), each send one header line every 2 s and never
finish their request; a closed one reconnects at once. Once they are all
open (or refused), a normal client (this process; the attacker is a
child process) makes REQUESTS requests in a row
(alternately GET /api/v1/health and, with USER:PASSWORD, GET /api/v1/jobs
with basic auth; each with a 10 s limit). Before the attack starts, the
client makes one request of each kind, not counted: the first Basic
request pays the server's argon2id verification of the password (about
half a second by design, cached afterwards), the first health request the
opening of the catalog; the counted ones are those of a client already
known. SOCKETS may be 0 (no attack: the baseline). Prints one JSON line:
{"ok": answered with 200, "requests": N, "p50_ms", "p90_ms", "p99_ms",
 "max_ms", "cold_ms": [first health, first Basic request],
 "attack_open": attacker connections open when the client started,
 "attack_closed": attacker connections the server closed}.
Standard library only.
"""
import base64
import json
import os
import selectors
import socket
import sys
import threading
import time


def request(port, path, auth):
    """One request on a new connection: (answered with 200, milliseconds)."""
    hdr = "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % path
    if auth:
        hdr += "Authorization: Basic %s\r\n" % base64.b64encode(auth.encode()).decode()
    t0 = time.monotonic()
    ok = False
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall((hdr + "\r\n").encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        c.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        pass
    return ok, (time.monotonic() - t0) * 1000


def main():
    port, nsock, naddr, nreq = (int(a) for a in sys.argv[1:5])
    auth = sys.argv[5] if len(sys.argv) > 5 else None
    # 127.0.0.2, 127.0.0.3, ... then 127.0.1.x: up to thousands of addresses.
    addrs = ["127.0.%d.%d" % ((2 + i) // 256, (2 + i) % 256) for i in range(naddr)]
    stop = threading.Event()
    state = {"open": 0, "closed": 0}
    lock = threading.Lock()

    def connect(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.bind((addrs[i % naddr], 0))
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        return s

    def attacker():
        sel = selectors.DefaultSelector()
        socks = {}
        for i in range(nsock):
            s = connect(i)
            if s is not None:
                socks[i] = s
                sel.register(s, selectors.EVENT_READ, i)
        with lock:
            state["open"] = len(socks)
        ready.set()
        line = 0
        while not stop.is_set():
            line += 1
            deadline = time.monotonic() + 2
            for i, s in list(socks.items()):
                try:
                    s.send(b"X-Slow-%d: %d\r\n" % (line, i))
                except OSError:
                    pass
            while time.monotonic() < deadline and not stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    i = key.data
                    s = socks.pop(i)
                    sel.unregister(s)
                    s.close()
                    with lock:
                        state["closed"] += 1
                    s = connect(i)
                    if s is not None:
                        socks[i] = s
                        sel.register(s, selectors.EVENT_READ, i)
        for s in socks.values():
            s.close()

    # The attacker runs in a child process: the normal client's timings
    # are then not those of a Python thread waiting for the GIL.
    class Ready:
        def set(self):
            os.write(w, b"%d\n" % state["open"])
    ready = Ready()
    cold = [round(request(port, "/api/v1/health", None)[1], 1)]
    if auth:
        cold.append(round(request(port, "/api/v1/jobs", auth)[1], 1))
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(w2)
        threading.Thread(target=lambda: (os.read(r2, 1), stop.set()), daemon=True).start()
        attacker()
        os.write(w, b"%d\n" % state["closed"])
        os._exit(0)
    os.close(w)
    os.close(r2)
    rf = os.fdopen(r)
    attack_open = int(rf.readline() or 0)
    time.sleep(1)
    lat = []
    ok = 0
    for r in range(nreq):
        basic = bool(auth and r % 2)
        good, ms = request(port, "/api/v1/jobs" if basic else "/api/v1/health",
                           auth if basic else None)
        ok += good
        lat.append(ms)
    os.write(w2, b"x")
    state["closed"] = int(rf.readline() or 0)
    os.waitpid(pid, 0)
    lat.sort()
    pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1)
    print(json.dumps({"ok": ok, "requests": nreq, "p50_ms": pick(0.5), "p90_ms": pick(0.9),
                      "p99_ms": pick(0.99), "max_ms": round(lat[-1], 1), "cold_ms": cold,
                      "attack_open": attack_open,
                      "attack_closed": state["closed"]}))


main()
