"""Slowloris: does a crowd of slow clients delay everyone else?

N attacking connections (10,000 by default) each send one byte of a request
head every few seconds and never finish it; when sluice closes one (its
listener's header timeout, 10 s by default, answers 408 and closes), the
attacker opens another, so N stay open. Meanwhile normal clients measure
the latency of ordinary requests through sluice to a backend:

- `wrk -t1 -c10 --latency` on keep-alive connections (p50, p99);
- a probe that opens a new connection for every request, one at a time
  (p50, p99, max): the kind of client an attack on the accept path hurts.

Each is measured without the attack, then during it; the table gives both,
with sluice's RSS and CPU. Loopback only: attacking connections come from
127.0.0.2 to 127.0.0.254 (one ephemeral port range each, since the attack
churns through more connections than one source address has ports); the
backend is nginx (as in proxy_bench.py). Every phase is bounded in time
and count; everything started is stopped by process group, also on error.

Run: `make bench-slowloris`, or
  python3 bench/load/slowloris.py --sluice build/sluice [--connections 10000]
      [--interval 3] [--duration 10] [--header-timeout 10s]
"""
import argparse
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (CLK_TCK, Service, cpu_pair, cpu_ticks, free_port, raise_nofile, rss_bytes,
                      run_wrk)
from proxy_bench import Backend

HEAD = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: slowloris\r\nX-a: "


# ---------------------------------------------------------------- attacker

def attack(port, count, interval, duration, ramp_per_s):
    """Runs in its own process (`--attack`): keeps `count` connections open
    for `duration` seconds, each sending one head byte every `interval`
    seconds (jittered). Prints 'open N reconnects R' once a second and
    'ready' once all are open."""
    raise_nofile()
    sel = selectors.DefaultSelector()
    sources = [f"127.0.0.{i}" for i in range(2, 255)]
    conns = {}  # socket -> [next_send_time, bytes_sent]
    stats = {"reconnects": 0, "failed": 0, "opened": 0}
    ready_said = False

    def open_one():
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind((random.choice(sources), 0))
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            stats["failed"] += 1
            return
        conns[s] = [time.monotonic() + random.uniform(0, interval), 0]
        sel.register(s, selectors.EVENT_READ)
        stats["opened"] += 1

    def drop(s):
        sel.unregister(s)
        conns.pop(s, None)
        s.close()

    start = time.monotonic()
    end = start + duration
    next_report = start + 1
    opened_target = 0
    while time.monotonic() < end:
        now = time.monotonic()
        # Ramp up at a bounded rate, then replace what sluice closed.
        opened_target = min(count, int((now - start) * ramp_per_s) + 1)
        while len(conns) < opened_target and stats["opened"] < count * 20:
            if len(conns) >= count:
                break
            if stats["opened"] >= count:
                stats["reconnects"] += 1
            open_one()
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            # Any answer (408) or a close: this one is over.
            drop(s)
        now = time.monotonic()
        for s, st in list(conns.items()):
            if st[0] <= now:
                byte = HEAD[st[1]:st[1] + 1] if st[1] < len(HEAD) else b"b"
                try:
                    s.send(byte)
                    st[1] += 1
                except BlockingIOError:
                    pass
                except OSError:
                    drop(s)
                    continue
                st[0] = now + interval * random.uniform(0.8, 1.2)
        if not ready_said and len(conns) >= count:
            print("ready", flush=True)
            ready_said = True
        if now >= next_report:
            print(f"open {len(conns)} reconnects {stats['reconnects']} failed {stats['failed']}",
                  flush=True)
            next_report = now + 1
    for s in list(conns):
        drop(s)
    print(f"done reconnects {stats['reconnects']} failed {stats['failed']}", flush=True)


# ------------------------------------------------------------------ probes

def new_connection_probe(port, seconds, limit=2000):
    """One request per new connection, one at a time, for `seconds` (at most
    `limit` requests). Returns latencies in ms and the number of failures."""
    request = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    latencies, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(latencies) + failures < limit:
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(request)
                got = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            if not got.startswith(b"HTTP/1.1 200"):
                failures += 1
                continue
        except OSError:
            failures += 1
            continue
        latencies.append((time.monotonic() - t0) * 1000)
        time.sleep(0.01)  # paces the probe (about 100 requests/s), not a synchronisation
    return latencies, failures


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


# -------------------------------------------------------------------- main

def sluice_service(workdir, backend_port, cpu, sluice_bin, header_timeout):
    port = free_port()
    path = os.path.join(workdir, "sluice.yaml")
    with open(path, "w") as f:
        f.write(f"""workers: 1
log: {{level: warn}}
listeners:
  - name: web
    listen: 127.0.0.1:{port}
    timeouts: {{header: {header_timeout}, idle: 300s}}
routes:
  - name: all
    backend: app
backends:
  app:
    servers:
      - address: 127.0.0.1:{backend_port}
    pool:
      max_idle_per_server: 256
      idle_timeout: 300s
""")
    return Service("sluice", [sluice_bin, "run", "-c", path], workdir, port, cpu)


def measure(port, sluice, args, cpu):
    ticks0 = cpu_ticks(sluice.pid)
    wrk = run_wrk(port, args.duration, args.wrk_connections, "/", cpu)
    lat, failed = new_connection_probe(port, args.duration)
    ticks = cpu_ticks(sluice.pid) - ticks0
    return {
        "wrk_rps": wrk["rps"], "wrk_p50": wrk["p50_ms"], "wrk_p99": wrk["p99_ms"],
        "wrk_errors": wrk["errors"],
        "new_p50": pct(lat, 50), "new_p99": pct(lat, 99), "new_max": max(lat, default=float("nan")),
        "new_n": len(lat), "new_failed": failed,
        "rss_mb": rss_bytes(sluice.pid) / 1e6,
        "cpu_pct": 100.0 * ticks / CLK_TCK / (2 * args.duration),
    }


def run(args):
    nofile = raise_nofile()
    if nofile < args.connections + 1000:
        sys.exit(f"the hard descriptor limit ({nofile}) is too low for {args.connections} "
                 "attacking connections")
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/install-deps.sh bench")
    proxy_cpu, load_cpu = cpu_pair()
    tmp = tempfile.mkdtemp(prefix="sluice-slowloris-")
    os.makedirs(os.path.join(tmp, "backend"))
    backend = Backend(os.path.join(tmp, "backend"), load_cpu, min(nofile, 4096))
    sluice = None
    attacker = None
    try:
        backend.start()
        sluice = sluice_service(tmp, backend.port, proxy_cpu, args.sluice, args.header_timeout)
        sluice.start()
        port = sluice.port
        run_wrk(port, 1, args.wrk_connections, "/", load_cpu)  # warm-up: backend pool exists
        print(f"sluice on port {port} (CPU {proxy_cpu}); backend, load and attacker on CPU "
              f"{load_cpu}", flush=True)
        print("without the attack ...", flush=True)
        calm = measure(port, sluice, args, load_cpu)
        rss_calm = rss_bytes(sluice.pid) / 1e6

        print(f"opening {args.connections} slow connections ...", flush=True)
        attack_seconds = args.ramp_limit + 2 * args.duration + 15
        attacker = subprocess.Popen(
            ["taskset", "-c", str(load_cpu), sys.executable, os.path.abspath(__file__), "--attack",
             "--port", str(port), "--connections", str(args.connections), "--interval",
             str(args.interval), "--attack-seconds", str(attack_seconds)],
            stdout=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + args.ramp_limit
        last = ""
        while time.monotonic() < deadline:
            line = attacker.stdout.readline()
            if not line:
                break
            last = line.strip()
            if last == "ready":
                break
        if last != "ready":
            raise RuntimeError(f"the attacker did not open {args.connections} connections in "
                               f"{args.ramp_limit} s (last: {last!r})\n{sluice.log_tail()}")
        print(f"under attack ({args.connections} connections, one byte every ~{args.interval} s) "
              "...", flush=True)
        attacker_ticks = cpu_ticks(attacker.pid)
        attacked = measure(port, sluice, args, load_cpu)
        rss_attack = rss_bytes(sluice.pid) / 1e6
        attacker_pct = 100.0 * (cpu_ticks(attacker.pid) - attacker_ticks) / CLK_TCK / (
            2 * args.duration)
        os.killpg(attacker.pid, signal.SIGTERM)
        attacker.wait(timeout=15)
        report = [line.strip() for line in attacker.stdout.read().splitlines()]
        opens = [line for line in report if line.startswith("open ")]
        attacker = None

        print()
        print(f"{'':26}{'without attack':>16}{'under attack':>16}")
        rows = [("keep-alive p50 (ms)", "wrk_p50", ".2f"), ("keep-alive p99 (ms)", "wrk_p99", ".2f"),
                ("keep-alive req/s", "wrk_rps", ".0f"), ("keep-alive errors", "wrk_errors", "d"),
                ("new-conn p50 (ms)", "new_p50", ".2f"), ("new-conn p99 (ms)", "new_p99", ".2f"),
                ("new-conn max (ms)", "new_max", ".2f"), ("new-conn requests", "new_n", "d"),
                ("new-conn failures", "new_failed", "d"), ("sluice CPU (% of 1 core)", "cpu_pct", ".1f"),
                ("sluice RSS (MB)", "rss_mb", ".1f")]
        for label, key, spec in rows:
            print(f"{label:26}{format(calm[key], spec):>16}{format(attacked[key], spec):>16}")
        print(f"sluice RSS at rest {rss_calm:.1f} MB, with the attack open {rss_attack:.1f} MB "
              f"({(rss_attack - rss_calm) * 1e6 / args.connections:.0f} B per slow connection)")
        if opens:
            print(f"attacker, last report: {opens[-1]}; it used {attacker_pct:.0f}% of CPU "
                  f"{load_cpu}, shared with the load")
        sluice.log.flush()
        with open(sluice.log.name) as f:
            timeouts = sum(1 for line in f if " 408 " in line)
        print(f"sluice logged {timeouts} '408 Request Timeout' lines (slow heads cut by "
              f"timeouts.header {args.header_timeout})")
        return 0 if calm["wrk_errors"] + attacked["wrk_errors"] == 0 else 1
    finally:
        if attacker is not None:
            try:
                os.killpg(attacker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            attacker.wait()
        if sluice is not None:
            sluice.stop()
        backend.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sluice", default="build/sluice")
    p.add_argument("--connections", type=int, default=10_000)
    p.add_argument("--interval", type=float, default=3.0, help="seconds between bytes")
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    p.add_argument("--wrk-connections", type=int, default=10)
    p.add_argument("--header-timeout", default="10s", help="sluice's listener timeouts.header")
    p.add_argument("--ramp-limit", type=int, default=60, help="seconds to open the connections")
    p.add_argument("--ramp-rate", type=int, default=2000, help="new connections per second")
    p.add_argument("--attack", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--attack-seconds", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.attack:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        attack(args.port, args.connections, args.interval, min(args.attack_seconds, 600),
               args.ramp_rate)
        return 0
    args.sluice = os.path.abspath(args.sluice)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
