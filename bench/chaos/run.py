#!/usr/bin/env python3
"""Chaos run: mixed GET/POST load through sluice while the backend closes
pooled connections at random, the way servers with short keep-alive
timeouts, restarts and load shedding do.

The backend (here, threaded Python, loopback only) answers the first request
of every connection, so a request resent on a fresh connection succeeds.
After that, on each new request it may read the request and close without
answering (the dangerous case: the request reached the server), and after
each response it may close the connection a moment later (a pooled
connection dying while idle). It records the X-Request-Id of every POST it
reads, answered or not.

Pass: zero failed GETs (sluice must resend them), and zero POSTs read twice
(sluice must never resend them). A POST that the backend dropped may fail
(502 or a closed connection): that is the correct answer.

Usage: python3 bench/chaos/run.py [--sluice build/sluice] [--duration 60]
"""
import argparse
import collections
import http.client
import os
import random
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

DROP_UNANSWERED = 0.05  # of requests after a connection's first
CLOSE_AFTER = 0.10      # of responses: close the connection soon after


class Backend(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.posts = collections.Counter()
        self.dropped = 0
        self.closed_idle = 0
        self.connections = 0


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        srv = self.server
        with srv.lock:
            srv.connections += 1
        rng = random.Random()
        served = 0
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method = line.split(b" ", 1)[0].decode()
            headers = {}
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            body = self.rfile.read(int(headers.get("content-length", "0") or 0))
            rid = headers.get("x-request-id", "?")
            if method == "POST":
                with srv.lock:
                    srv.posts[rid] += 1
            if served > 0 and rng.random() < DROP_UNANSWERED:
                with srv.lock:
                    srv.dropped += 1
                return  # read it, close without an answer
            out = f"{method} {rid} {len(body)}".encode()
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(out), out))
            self.wfile.flush()
            served += 1
            if rng.random() < CLOSE_AFTER:
                time.sleep(rng.random() * 0.02)  # the server's idle close, soon after
                with srv.lock:
                    srv.closed_idle += 1
                return


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(port, deadline, seed, stats, lock):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = 0
    while time.time() < deadline:
        n += 1
        method = "POST" if rng.random() < 0.4 else "GET"
        rid = f"{seed}-{n}"
        body = b"x" * rng.randint(1, 2048) if method == "POST" else None
        try:
            conn.request(method, "/chaos", body=body, headers={"X-Request-Id": rid})
            r = conn.getresponse()
            r.read()
            key = f"{method} {r.status}"
            if r.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        except (OSError, http.client.HTTPException):
            key = f"{method} closed"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            stats[key] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sluice", default="build/sluice")
    ap.add_argument("--duration", type=int, default=60)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()

    backend = Backend()
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="sluice-chaos-")
    cfg = os.path.join(tmp, "sluice.yaml")
    with open(cfg, "w") as f:
        f.write(f"""workers: 2
listeners:
  - name: web
    listen: 127.0.0.1:{port}
routes:
  - backend: app
backends:
  app:
    servers: [127.0.0.1:{backend.server_address[1]}]
    retries: {{attempts: 2}}
""")
    log = open(os.path.join(tmp, "sluice.log"), "w+")
    proc = subprocess.Popen([args.sluice, "run", "-c", cfg], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            log.seek(0)
            if "sluice ready" in log.read():
                break
            if proc.poll() is not None:
                sys.exit("sluice exited at start-up; see " + log.name)
            time.sleep(0.05)
        stats = collections.Counter()
        lock = threading.Lock()
        end = time.time() + args.duration
        threads = [threading.Thread(target=client, args=(port, end, i + 1, stats, lock))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        backend.shutdown()

    log.seek(0)
    text = log.read()
    retries = text.count("retrying")
    twice = sum(1 for c in backend.posts.values() if c > 1)
    failed_gets = sum(v for k, v in stats.items() if k.startswith("GET") and k != "GET 200")
    print(f"## Chaos: {args.duration} s, {args.clients} clients, 40% POST; backend drops "
          f"{DROP_UNANSWERED:.0%} of requests unanswered and closes {CLOSE_AFTER:.0%} of "
          "connections after a response\n")
    print("| outcome | count |\n|---|---|")
    for k in sorted(stats):
        print(f"| {k} | {stats[k]} |")
    print(f"| backend: connections | {backend.connections} |")
    print(f"| backend: requests dropped unanswered | {backend.dropped} |")
    print(f"| backend: connections closed after a response | {backend.closed_idle} |")
    print(f"| sluice: retries logged | {retries} |")
    print(f"| **failed GETs** | **{failed_gets}** |")
    print(f"| **POSTs read twice by the backend** | **{twice}** |")
    ok = failed_gets == 0 and twice == 0
    print("\nPASS" if ok else "\nFAIL (sluice log: " + log.name + ")")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
