#!/usr/bin/env python3
"""Load benchmark: sluice beside nginx and HAProxy, same load, same run.

Method (../shared/benchmarking.md): each peer alone on CPU 0, the load
generator on CPU 1; CPU-microseconds per request from /proc/PID/stat of every
process of the peer; requests/s and latency from wrk; memory per idle
keep-alive connection from RSS before/after opening N connections that each
completed one request. Peers alternate within a round; every round printed.
Loopback only; every load bounded in time and count; everything started is
stopped by PID.
"""
import argparse
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

BODY = "hello sluice\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid):
    """pid and all its descendants (nginx: master and worker)."""
    pids, frontier = [pid], [pid]
    while frontier:
        p = frontier.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        pids += kids
        frontier += kids
    return pids


def cpu_ticks(pid):
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)
        except OSError:
            pass
    return total


def rss_bytes(pid):
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)  # readiness poll for a benchmark, bounded above
    return False


class Peer:
    def __init__(self, name, workdir, sluice_bin):
        self.name, self.workdir, self.sluice_bin = name, workdir, sluice_bin
        self.proc = None
        self.port = None

    def config(self, port):
        d = self.workdir
        if self.name == "sluice":
            path = os.path.join(d, "sluice.yaml")
            with open(path, "w") as f:
                f.write(f"""workers: 1
log: {{level: warn}}
listeners:
  - name: web
    listen: 127.0.0.1:{port}
routes:
  - name: hello
    match: {{path: /}}
    respond: {{status: 200, body: "hello sluice\\n", headers: {{Content-Type: text/plain}}}}
""")
            return [self.sluice_bin, "run", "-c", path]
        if self.name == "nginx":
            path = os.path.join(d, "nginx.conf")
            with open(path, "w") as f:
                f.write(f"""worker_processes 1;
worker_rlimit_nofile 30000;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 30000; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type text/plain;
  client_body_temp_path {d};
  proxy_temp_path {d};
  fastcgi_temp_path {d};
  uwsgi_temp_path {d};
  scgi_temp_path {d};
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "hello sluice\\n"; }}
  }}
}}
""")
            return ["nginx", "-p", d, "-c", path, "-g", "daemon off; master_process on;"]
        if self.name == "haproxy":
            path = os.path.join(d, "haproxy.cfg")
            with open(path, "w") as f:
                f.write(f"""global
  nbthread 1
  # HAProxy sizes its descriptor table at 2 x maxconn + extra; the hard
  # limit here is 20000, so state the limit and keep maxconn under half.
  ulimit-n 20000
  maxconn 9990
defaults
  mode http
  timeout client 300s
  timeout server 300s
  timeout connect 5s
  timeout http-keep-alive 300s
frontend web
  bind 127.0.0.1:{port}
  http-request return status 200 content-type text/plain string "hello sluice\\n"
""")
            return ["haproxy", "-db", "-f", path]
        raise ValueError(self.name)

    def start(self):
        self.port = free_port()
        argv = ["taskset", "-c", "0"] + self.config(self.port)
        self.log = open(os.path.join(self.workdir, f"{self.name}.log"), "w+")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.workdir)
        if not wait_port(self.port, self.proc):
            self.log.seek(0)
            tail = self.log.read()[-2000:]
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n{tail}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise RuntimeError(f"unexpected wrk latency '{text}'")
    v, unit = float(m.group(1)), m.group(2)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[unit]


def run_wrk(port, duration, connections):
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=duration + 60).stdout
    if not all(re.search(p, out) for p in (r"(\d+) requests in", r"Requests/sec:", r"50%\s+\S+",
                                          r"99%\s+\S+")):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    res = {"requests": int(re.search(r"(\d+) requests in", out).group(1))}
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    res["p50_ms"] = to_ms(re.search(r"50%\s+(\S+)", out).group(1))
    res["p99_ms"] = to_ms(re.search(r"99%\s+(\S+)", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    res["errors"] = errors
    return res


def idle_memory(peer, count):
    """Bytes of peer RSS per idle keep-alive connection that did one request."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(count, hard - 100)
    if peer.name == "haproxy":
        count = min(count, 9900)  # its maxconn under this machine's descriptor limit
    before = rss_bytes(peer.proc.pid)
    sel = selectors.DefaultSelector()
    socks, pending = [], 0
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    deadline = time.monotonic() + 60
    try:
        for _ in range(count):
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", peer.port))
            except OSError:
                s.close()
                break
            s.sendall(request)
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, bytearray())
            pending += 1
            # Drain answers as we go so neither side's buffers grow.
            for key, _ in sel.select(timeout=0):
                pending -= read_answer(sel, key)
        while pending > 0 and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                pending -= read_answer(sel, key)
        after = rss_bytes(peer.proc.pid)
        opened = len(socks)
        return {"idle_conns": opened - pending,
                "idle_bytes": (after - before) / max(1, opened - pending)}
    finally:
        for s in socks:
            s.close()


def read_answer(sel, key):
    try:
        data = key.fileobj.recv(4096)
    except BlockingIOError:
        return 0
    key.data.extend(data)
    if BODY.encode() in key.data or not data:
        sel.unregister(key.fileobj)
        return 1
    return 0


def measure(peer, args):
    peer.start()
    try:
        run_wrk(peer.port, 1, args.connections)  # warm-up
        t0 = cpu_ticks(peer.proc.pid)
        res = run_wrk(peer.port, args.duration, args.connections)
        t1 = cpu_ticks(peer.proc.pid)
        res["cpu_us_per_req"] = (t1 - t0) / CLK_TCK * 1e6 / max(1, res["requests"])
        res.update(idle_memory(peer, args.idle_connections))
        return res
    finally:
        peer.stop()


def mean(rows, key):
    vals = [r[key] for r in rows if key in r]
    return sum(vals) / len(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sluice", default="build/sluice")
    ap.add_argument("--peers", default="sluice,nginx,haproxy")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--idle-connections", type=int, default=10000)
    ap.add_argument("--quick", action="store_true", help="1 round, 3 s, 2000 idle connections")
    ap.add_argument("--json", help="also write raw results here")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.idle_connections = 1, 3, 2000
    peers = args.peers.split(",")
    need = {"wrk": "wrk", "taskset": "util-linux", "nginx": "nginx-light", "haproxy": "haproxy"}
    missing = [pkg for tool, pkg in need.items()
               if shutil.which(tool) is None and (tool not in ("nginx", "haproxy") or tool in peers)]
    if missing:
        print(f"missing: {', '.join(missing)}; run scripts/install-deps.sh bench", file=sys.stderr)
        return 2
    args.sluice = os.path.abspath(args.sluice)

    results = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        for rnd in range(1, args.rounds + 1):
            for name in peers:
                d = os.path.join(tmp, f"{name}-{rnd}")
                os.makedirs(d)
                try:
                    r = measure(Peer(name, d, args.sluice), args)
                except Exception:  # keep the other peers going
                    print(f"{name} round {rnd} failed:\n{traceback.format_exc()}", file=sys.stderr)
                    continue
                r.update(peer=name, round=rnd)
                results.append(r)
                print(f"{name} round {rnd}: {r['rps']:.0f} req/s, p99 {r['p99_ms']:.2f} ms, "
                      f"{r['cpu_us_per_req']:.1f} CPU-us/req, {r['idle_bytes']:.0f} B/idle conn, "
                      f"{r['errors']} errors", file=sys.stderr)

    print("\n## Responder: keep-alive GET /, 13-byte body "
          f"(wrk -t1 -c{args.connections} -d{args.duration}s; idle: {args.idle_connections} conns)\n")
    print("| peer | round | req/s | p50 ms | p99 ms | CPU-µs/req | idle B/conn | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['peer']} | {r['round']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {r['cpu_us_per_req']:.2f} | {r['idle_bytes']:.0f} ({r['idle_conns']}) | {r['errors']} |")
    by = {p: [r for r in results if r["peer"] == p] for p in peers}
    if by.get("sluice"):
        print("\n| ratio (mean of rounds) | CPU-µs/req (lower is better) | req/s | p99 | idle B/conn |")
        print("|---|---|---|---|---|")
        for other in peers:
            if other == "sluice" or not by.get(other):
                continue
            s, o = by["sluice"], by[other]
            print(f"| sluice / {other} | {mean(s, 'cpu_us_per_req') / mean(o, 'cpu_us_per_req'):.2f} "
                  f"| {mean(s, 'rps') / mean(o, 'rps'):.2f} | {mean(s, 'p99_ms') / mean(o, 'p99_ms'):.2f} "
                  f"| {mean(s, 'idle_bytes') / max(1, mean(o, 'idle_bytes')):.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
