#!/usr/bin/env python3
"""Load benchmark: sluice beside nginx and HAProxy, same load, same run.

Scenarios (--scenario responder|proxy|all|tls|h2, default all = responder and proxy):
- responder: sluice's built-in answer against nginx `return` and HAProxy
  `http-request return` (this file);
- proxy: sluice, HAProxy and nginx as reverse proxies in front of one shared
  nginx backend, and the load straight at that backend (proxy_bench.py);
- tls: the three proxies terminating TLS with the same certificates in front
  of that backend: full and resumed handshakes, keep-alive over TLS, kTLS,
  idle TLS connections (tls_bench.py);
- h2: the three proxies serving HTTP/2 clients (h2load) over TLS and h2c in
  front of that backend, idle h2 connections, and h2c to an h2 backend
  (h2_bench.py).

Method (../shared/benchmarking.md, docs/benchmarks.md): each peer alone on
CPU 0, the load generator (and the proxy scenario's backend) on CPU 1;
CPU-microseconds per request from /proc/PID/stat of every process of the
peer; requests/s and latency from wrk (ab for a new connection per request);
memory per idle keep-alive connection from RSS before/after opening N
connections that each completed one request. Peers alternate within a round;
every round printed. Loopback only; every load bounded in time and count;
everything started is stopped by process group.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback

from benchlib import (CLK_TCK, Service, cpu_ticks, free_port, idle_memory as idle_probe, raise_nofile,
                      run_wrk)
import auth_bench
import h2_bench
import proxy_bench
import tls_bench

BODY = "hello sluice\n"


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
        self.svc = Service(self.name, self.config(self.port), self.workdir, self.port, 0).start()
        self.proc = self.svc.proc

    def stop(self):
        if self.proc:
            self.svc.stop()
        self.proc = None


def idle_memory(peer, count):
    """Bytes of peer RSS per idle keep-alive connection that did one request."""
    if peer.name == "haproxy":
        count = min(count, 9900)  # its maxconn under this machine's descriptor limit
    count = min(count, raise_nofile() - 100)
    res = idle_probe(peer.proc.pid, peer.port, count, max_inflight=count)
    return {"idle_conns": res["idle_conns"], "idle_bytes": res["idle_bytes"],
            "idle_errors": res["errors"]}


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


def run_responder(args, tmp):
    peers = args.peers.split(",")
    results = []
    for rnd in range(1, args.rounds + 1):
        for name in peers:
            d = os.path.join(tmp, f"{name}-{rnd}")
            os.makedirs(d)
            try:
                r = measure(Peer(name, d, args.sluice), args)
            except Exception as e:  # keep the other peers going, but report the round
                print(f"{name} round {rnd} failed:\n{traceback.format_exc()}", file=sys.stderr)
                # errors=None: not a count; the exit status says the run failed.
                r = {"failed_run": True, "errors": None,
                     "note": (str(e).strip().splitlines() or [type(e).__name__])[0][:120]}
            r.update(scenario="responder", peer=name, round=rnd)
            results.append(r)
            if r.get("failed_run"):
                print(f"{name} round {rnd}: FAILED ({r['note']})", file=sys.stderr)
                continue
            print(f"{name} round {rnd}: {r['rps']:.0f} req/s, p99 {r['p99_ms']:.2f} ms, "
                  f"{r['cpu_us_per_req']:.1f} CPU-us/req, {r['idle_bytes']:.0f} B/idle conn, "
                  f"{r['errors']} errors", file=sys.stderr)

    print("\n## Responder: keep-alive GET /, 13-byte body "
          f"(wrk -t1 -c{args.connections} -d{args.duration}s; idle: {args.idle_connections} conns)\n")
    print("| peer | round | req/s | p50 ms | p99 ms | CPU-µs/req | idle B/conn | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        if r.get("failed_run"):
            print(f"| {r['peer']} | {r['round']} | FAILED: {r['note']} | | | | | |")
            continue
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
            failed = [n for n, rows in (("sluice", s), (other, o))
                      if any(r.get("failed_run") for r in rows)]
            if failed:  # a mean over fewer rounds than the other side's is no comparison
                print(f"| sluice / {other} | failed rounds from {' and '.join(failed)}: "
                      "not comparable | | | |")
                continue
            print(f"| sluice / {other} | {mean(s, 'cpu_us_per_req') / mean(o, 'cpu_us_per_req'):.2f} "
                  f"| {mean(s, 'rps') / mean(o, 'rps'):.2f} | {mean(s, 'p99_ms') / mean(o, 'p99_ms'):.2f} "
                  f"| {mean(s, 'idle_bytes') / max(1, mean(o, 'idle_bytes')):.2f} |")
    return results


def on_sigterm(signum, frame):
    # Unwind through the finally blocks that stop every started process.
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenario", choices=("all", "responder", "proxy", "tls", "h2", "auth"),
                    default="all",
                    help="responder: sluice's built-in answer beside nginx/HAProxy `return`;\n"
                         "proxy: sluice, HAProxy, nginx as proxies and direct, one nginx backend;\n"
                         "tls: the proxies terminating TLS in front of that backend (not in all);\n"
                         "h2: the proxies serving HTTP/2 clients (h2load) in front of it (not in all);\n"
                         "auth: sluice forward_auth against nginx auth_request (not in all)")
    ap.add_argument("--sluice", default="build/sluice")
    ap.add_argument("--peers", default="sluice,nginx,haproxy", help="responder peers")
    ap.add_argument("--proxies", default=",".join(proxy_bench.default_proxies()),
                    help="proxy scenario rows, some of " + ",".join(proxy_bench.PROXIES))
    ap.add_argument("--proxy-loads", default=",".join(proxy_bench.SCENARIOS),
                    help="proxy loads: ka (keep-alive /), ka64k, newconn (ab), idle, burst\n"
                         "(burst: --idle-connections clients arriving --burst-wave at a time)")
    ap.add_argument("--workers", default="1",
                    help="proxy scenario: worker counts to run each load with, e.g. 1,2\n"
                         "(sluice workers, HAProxy nbthread, nginx worker_processes; with more\n"
                         "than one, proxy and load share every CPU; a scaling table follows)")
    ap.add_argument("--burst-wave", type=int, default=proxy_bench.BURST_WAVE,
                    help="clients arriving together in the burst load (200)")
    ap.add_argument("--proxy-cpu-share", type=float, default=1.0,
                    help="proxy scenario: hold each proxy to this share of one CPU (a cgroup "
                         "quota; e.g. 0.5), so that it is never idle and its CPU per request "
                         "is its work (needs root)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk load")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections")
    ap.add_argument("--ab-requests", type=int, default=20000, help="ab -n (proxy scenario)")
    ap.add_argument("--ab-concurrency", type=int, default=10, help="ab -c (proxy scenario)")
    ap.add_argument("--idle-connections", type=int, default=10000,
                    help="idle keep-alive connections (proxy scenario: at most 9,900)")
    ap.add_argument("--tls-proxies", default=",".join(tls_bench.PROXIES), help="tls scenario rows")
    ap.add_argument("--tls-loads", default=",".join(tls_bench.LOADS),
                    help="tls loads: full-ecdsa, full-rsa (ab, a full handshake each), resume\n"
                         "(s_time -reuse), ka, ka64k (wrk https), ka64k-ktls (sluice ktls: true),\n"
                         "idle (--tls-idle-connections TLS connections)")
    ap.add_argument("--tls-handshakes", type=int, default=3000, help="ab -n for full handshakes")
    ap.add_argument("--stime-clients", type=int, default=4,
                    help="concurrent openssl s_time -reuse clients, each for --duration s")
    ap.add_argument("--tls-idle-connections", type=int, default=1000, help="idle TLS connections")
    ap.add_argument("--tls-idle-hold", type=float, default=12.0,
                    help="seconds idle TLS connections stay open before RSS is read (12: past\n"
                         "the usual 10 s header timeouts)")
    ap.add_argument("--h2-proxies", default=",".join(h2_bench.PROXIES), help="h2 scenario rows")
    ap.add_argument("--h2-loads", default=",".join(h2_bench.LOADS),
                    help="h2 loads: h2 (h2 over TLS, ALPN), h2c (prior knowledge), idle\n"
                         "(--h2-idle-connections h2 connections over TLS), up-h2c (h2c clients,\n"
                         "h2c to an h2 backend); HTTP/1.1 to the backend except up-h2c")
    ap.add_argument("--h2-requests", type=int, default=100000, help="h2load -n per load")
    ap.add_argument("--h2-clients", type=int, default=50, help="h2load -c")
    ap.add_argument("--h2-streams", type=int, default=10, help="h2load -m (streams per connection)")
    ap.add_argument("--h2-timeout", type=int, default=180,
                    help="seconds an h2load run may take before its row fails")
    ap.add_argument("--h2-idle-connections", type=int, default=1000, help="idle h2 connections")
    ap.add_argument("--h2-idle-hold", type=float, default=12.0,
                    help="seconds idle h2 connections stay open before RSS is read")
    ap.add_argument("--auth-proxies", default=",".join(auth_bench.PROXIES), help="auth scenario rows")
    ap.add_argument("--auth-loads", default=",".join(auth_bench.LOADS),
                    help="auth loads: plain (no auth), auth (every request asked), cached")
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 3 s loads, ab -n 5000 (TLS: 1000), 2000 idle connections\n"
                         "(h2: h2load -n 20000, 300 idle connections held 5 s)")
    ap.add_argument("--json", help="also write raw results here (a list; each row names its scenario)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.idle_connections, args.ab_requests = 1, 3, 2000, 5000
        args.tls_handshakes = min(args.tls_handshakes, 1000)
        args.h2_requests = min(args.h2_requests, 20000)
        args.h2_idle_connections = min(args.h2_idle_connections, 300)
        args.h2_idle_hold = min(args.h2_idle_hold, 5.0)
    signal.signal(signal.SIGTERM, on_sigterm)
    peers = args.peers.split(",") if args.scenario in ("all", "responder") else []
    need = {"taskset": "util-linux", "nginx": "nginx-light", "haproxy": "haproxy"}
    if args.scenario != "h2":
        need["wrk"] = "wrk"
    missing = [pkg for tool, pkg in need.items()
               if shutil.which(tool) is None and (tool not in ("nginx", "haproxy") or tool in peers)]
    if args.scenario in ("all", "proxy"):
        missing += [p for p in proxy_bench.check_tools(args.proxies.split(",")) if p not in missing]
    if args.scenario == "tls":
        missing += [p for p in tls_bench.check_tools() if p not in missing]
    if args.scenario == "h2":
        missing += [p for p in h2_bench.check_tools() if p not in missing]
    if args.scenario == "auth":
        missing += [p for p in auth_bench.check_tools() if p not in missing]
    if missing:
        extra = " (openssl: apt-get install openssl)" if "openssl" in missing else ""
        print(f"missing: {', '.join(missing)}; run scripts/install-deps.sh bench{extra}", file=sys.stderr)
        return 2
    args.sluice = os.path.abspath(args.sluice)

    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
            if args.scenario in ("all", "responder"):
                os.makedirs(os.path.join(tmp, "responder"))
                results += run_responder(args, os.path.join(tmp, "responder"))
            if args.scenario in ("all", "proxy"):
                os.makedirs(os.path.join(tmp, "proxy"))
                results += proxy_bench.run(args, os.path.join(tmp, "proxy"))
            if args.scenario == "tls":
                os.makedirs(os.path.join(tmp, "tls"))
                results += tls_bench.run(args, os.path.join(tmp, "tls"))
            if args.scenario == "h2":
                os.makedirs(os.path.join(tmp, "h2"))
                results += h2_bench.run(args, os.path.join(tmp, "h2"))
            if args.scenario == "auth":
                os.makedirs(os.path.join(tmp, "auth"))
                results += auth_bench.run(args, os.path.join(tmp, "auth"))
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    failed = [r for r in results if r.get("failed_run")]
    for r in failed:
        print(f"FAILED: {r.get('peer') or r.get('proxy')} {r['scenario']} round {r['round']}: "
              f"{r['note']}", file=sys.stderr)
    return 0 if all(r.get("errors") == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
