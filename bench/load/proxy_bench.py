"""Proxy benchmark: sluice, HAProxy and nginx as reverse proxies in front of
one shared nginx backend, plus "direct" (the load straight at the backend).

Method (../shared/benchmarking.md, docs/benchmarks.md):
- one backend nginx (one worker) for the whole invocation, serving `/`
  (612 bytes), `/64k`, `/1m`, `/auth` (401 with a body) and `stub_status`;
- each proxy started fresh for every (load, proxy) pair, one worker/thread,
  keep-alive to the backend on, the same forwarding work (Host passed as
  received; X-Forwarded-For, -Proto and -Host added, as sluice does by
  default);
- the proxy alone on CPU 0; backend, wrk/ab and this script on CPU 1;
- a 1 s wrk warm-up before every load so backend pools exist;
- CPU-µs/req from /proc/PID/stat of the proxy's processes; backend reuse
  from the backend's own counters: 1 - new backend connections / requests
  the backend served during the load;
- loads: wrk keep-alive `/` and `/64k`; ab without -k (new client
  connection per request) `/`; N idle keep-alive client connections opened
  32 requests at a time (`idle`), or arriving in waves of 200 and then left
  idle, RSS read once the burst has settled (`burst`, issue 13 item 18).
Loopback only; every load bounded; everything started is stopped by process
group, also on error, Ctrl-C or SIGTERM.
"""
import http.client
import math
import os
import shutil
import sys
import traceback

from benchlib import (CLK_TCK, Service, busiest_shares, cpu_pair, cpu_split, cpu_ticks, free_port,
                      idle_after_burst, idle_memory, raise_nofile, run_ab, run_wrk, task_ticks)
from cpu_share import CpuShare

# "sluice-observed": sluice with what operators turn on (an admin listener
# serving /metrics, a JSON access log to a file), to weigh their cost.
# "sluice-before": another sluice binary (SLUICE_BEFORE=path), for a before/after
# row of one optimisation in the same run (issue 20).
# "floor": build/bench/floor_proxy, a byte relay with a backend connection per
# client and nothing else (floor_proxy.cpp): the least CPU per keep-alive
# request any proxy can spend on this machine, to read the targets against.
# "floor-uring": the same relay on io_uring (floor_uring.cpp), a turn's
# receives and sends in one system call: what that batching is worth here.
PROXIES = ("sluice", "sluice-observed", "sluice-before", "haproxy", "nginx", "floor", "floor-uring",
           "direct")


def default_proxies():
    """The rows of a run not told which: sluice-before only with its binary
    named, floor-uring only when asked for (it needs io_uring)."""
    skip = {"floor-uring"} | (set() if os.environ.get("SLUICE_BEFORE") else {"sluice-before"})
    return [p for p in PROXIES if p not in skip]
SMALL_SIZE = 612  # nginx's default index.html
# HAProxy sizes its descriptor table at 2 x maxconn + extra and the hard limit
# on this machine is 20,000: every proxy gets the same number of idle
# connections, the most HAProxy can hold.
IDLE_CAP = 9900
IDLE_INFLIGHT = 32  # requests outstanding at once while opening idle connections
BURST_WAVE = 200  # clients arriving together in the burst load (issue 13, item 18)

SCENARIOS = {
    # name: (label, kind, path)
    "ka": ("keep-alive / (612 B)", "wrk", "/"),
    "ka64k": ("keep-alive /64k", "wrk", "/64k"),
    "newconn": ("new conn / (ab)", "ab", "/"),
    "idle": ("idle client conns", "idle", "/"),
    "burst": ("idle after a burst", "burst", "/"),
}
IDLE_KINDS = ("idle", "burst")  # loads whose figure is bytes per idle connection


def with_workers(scenario, workers):
    """The key of a load run with `workers` workers per proxy: "ka" for one,
    "ka-w2" for two (registered in SCENARIOS with its own label)."""
    if workers == 1:
        return scenario
    key = f"{scenario}-w{workers}"
    label, kind, path = SCENARIOS[scenario]
    SCENARIOS[key] = (f"{label}, {workers} workers", kind, path)
    return key


def split_workers(key):
    """("ka", 2) from "ka-w2"; ("ka", 1) from "ka"."""
    base, _, w = key.rpartition("-w")
    return (base, int(w)) if base and w.isdigit() else (key, 1)


def small_body():
    line = b"sluice proxy benchmark: a small page, the size of nginx's default index.html\n"
    body = (line * (SMALL_SIZE // len(line) + 1))[:SMALL_SIZE - 1] + b"\n"
    assert len(body) == SMALL_SIZE
    return body


class Backend:
    """The shared nginx backend, with stub_status for its connection counts.

    h2: also serve the same files over h2c (prior knowledge) on `h2_port`,
    for proxies that speak HTTP/2 to their backend (h2_bench.py)."""

    def __init__(self, workdir, cpu, nofile, h2=False):
        self.dir = workdir
        d = workdir
        os.makedirs(os.path.join(d, "www"))
        # nginx started as root serves files as `nobody`: the temporary
        # directories (0700) must let it through.
        for p in (os.path.dirname(d), os.path.dirname(os.path.dirname(d)), d, os.path.join(d, "www")):
            os.chmod(p, 0o755)
        with open(os.path.join(d, "www", "index.html"), "wb") as f:
            f.write(small_body())
        with open(os.path.join(d, "www", "64k"), "wb") as f:
            f.write(bytes(range(256)) * 256)
        with open(os.path.join(d, "www", "1m"), "wb") as f:
            f.write(bytes(range(256)) * 4096)
        self.port = free_port()
        self.h2_port = free_port() if h2 else None
        h2_listen = f"\n    listen 127.0.0.1:{self.h2_port} http2 backlog=4096;" if h2 else ""
        conf = os.path.join(d, "backend.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
worker_rlimit_nofile {nofile};
pid {d}/backend.pid;
error_log {d}/backend-error.log;
events {{ worker_connections {nofile - 100}; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16;
  default_type application/octet-stream;
  client_body_temp_path {d};
  proxy_temp_path {d};
  fastcgi_temp_path {d};
  uwsgi_temp_path {d};
  scgi_temp_path {d};
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;{h2_listen}
    root {d}/www;
    location = / {{ default_type text/html; try_files /index.html =404; }}
    location = /64k {{ }}
    location = /1m {{ }}
    location = /auth {{ default_type text/plain; return 401 "authentication required\\n"; }}
    # An auth server that allows everything (auth_bench.py).
    location = /allow {{ return 204; }}
    # The protocol the request reached the backend in ("HTTP/1.1", "HTTP/2.0"):
    # h2_bench.py checks what each proxy speaks to its backend.
    location = /proto {{ default_type text/plain; return 200 "$server_protocol\\n"; }}
    location = /nginx_status {{ stub_status; }}
  }}
}}
""")
        self.svc = Service("backend-nginx", ["nginx", "-p", d, "-c", conf, "-g",
                                             "daemon off; master_process on;"], d, self.port, cpu)

    def start(self):
        self.svc.start()
        return self

    def stop(self):
        self.svc.stop()

    @property
    def pid(self):
        return self.svc.pid

    def status(self):
        """(accepted connections, requests) so far; the reading itself
        counts as one connection and one request."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/nginx_status")
            text = c.getresponse().read().decode()
        finally:
            c.close()
        # Active connections: 1 \n server accepts handled requests\n 16 16 31 \n ...
        nums = text.split("\n")[2].split()
        return int(nums[0]), int(nums[2])


# TLS termination (tls_bench.py): the same protocol versions, suites and key
# exchange groups on every proxy, stated rather than left to each default
# (nginx 1.22 alone would not offer TLS 1.3). TLS 1.3: OpenSSL's default suites.
TLS_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
TLS_CIPHERSUITES = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
TLS_CURVES = "X25519:P-256"


def proxy_service(name, workdir, backend_port, cpu, sluice_bin, nofile, clients=0, tls=None,
                  workers=1):
    """`clients`: client connections the load will hold open at once. HAProxy's
    maxconn is raised to fit them; past half the descriptor limit it needs
    `no strict-limits` to start (it sizes for a backend connection per client,
    which the burst never comes near: its backend connections stay under one
    wave).

    `tls`: terminate TLS on the listener: {"cert", "key", "bundle" (cert then
    key in one file, for HAProxy), "ktls" (sluice only)}; session tickets and
    a session cache on, as each proxy has them by default (nginx: stated).

    SLUICE_BENCH_EXTRA in the environment: top-level YAML added to sluice's
    configuration, to measure a feature's cost (e.g. an admin listener,
    which turns /metrics counting on).

    `workers`: sluice's `workers`, HAProxy's `nbthread`, nginx's
    `worker_processes`; `cpu` may then name several CPUs ("0,1").

    PEERS_DEFER_ACCEPT=1 in the environment: HAProxy's `defer-accept` and
    nginx's `deferred` on their listeners, the TCP_DEFER_ACCEPT sluice's http
    listeners have by default, to weigh the default against peers with it."""
    d = workdir
    peers_defer = os.environ.get("PEERS_DEFER_ACCEPT") == "1"
    port = free_port()
    maxconn = max((nofile - 20) // 2, clients + 100)
    strict = "" if 2 * maxconn + 20 <= nofile else "\n  no strict-limits"
    scheme = "https" if tls else "http"
    sluice_tls = haproxy_tls = nginx_tls = ""
    if tls:
        sluice_tls = f"""
    tls:
      certificates:
        - {{cert: {tls["cert"]}, key: {tls["key"]}}}
      ciphers: "{TLS_CIPHERS}"
      ciphersuites: "{TLS_CIPHERSUITES}"
      curves: "{TLS_CURVES}"
      ktls: {"true" if tls.get("ktls") else "false"}"""
        haproxy_tls = (f" ssl crt {tls['bundle']} ssl-min-ver TLSv1.2 ciphers {TLS_CIPHERS} "
                       f"ciphersuites {TLS_CIPHERSUITES} curves {TLS_CURVES}")
        nginx_tls = f"""
    ssl_certificate {tls["cert"]};
    ssl_certificate_key {tls["key"]};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {TLS_CIPHERS};
    ssl_conf_command Ciphersuites {TLS_CIPHERSUITES};
    ssl_ecdh_curve {TLS_CURVES};
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    ssl_session_timeout 2h;"""
    if name in ("sluice", "sluice-observed", "sluice-before"):
        if name == "sluice-before":
            sluice_bin = os.environ.get("SLUICE_BEFORE")
            if not sluice_bin:
                raise SystemExit("sluice-before: name its binary with SLUICE_BEFORE=path")
        path = os.path.join(d, "sluice.yaml")
        observed = ""
        if name == "sluice-observed":
            observed = f"""admin: {{listen: 127.0.0.1:0}}
access_log: {{path: {os.path.join(d, "access.log")}, format: json}}
"""
        with open(path, "w") as f:
            f.write(os.environ.get("SLUICE_BENCH_EXTRA", "") + f"""
workers: {workers}
log: {{level: warn}}
{observed}listeners:
  - name: web
    listen: 127.0.0.1:{port}
    timeouts: {{idle: 300s}}{sluice_tls}
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
        argv = [sluice_bin, "run", "-c", path]
    elif name == "haproxy":
        path = os.path.join(d, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(f"""global
  nbthread {workers}
  # HAProxy sizes its descriptor table at 2 x maxconn + extra; state the
  # limit and keep maxconn under half of it (except for the burst load).
  ulimit-n {nofile}
  maxconn {maxconn}{strict}
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout client 300s
  timeout server 300s
  timeout connect 5s
  timeout http-keep-alive 300s
frontend web
  bind 127.0.0.1:{port}{haproxy_tls}{" defer-accept" if peers_defer else ""}
  option forwardfor
  http-request set-header X-Forwarded-Proto {scheme}
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend app
backend app
  server s1 127.0.0.1:{backend_port}
""")
        argv = ["haproxy", "-db", "-f", path]
    elif name == "nginx":
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(f"""worker_processes {workers};
worker_rlimit_nofile {nofile};
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections {nofile - 100}; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path {d};
  proxy_temp_path {d};
  fastcgi_temp_path {d};
  uwsgi_temp_path {d};
  scgi_temp_path {d};
  upstream app {{
    server 127.0.0.1:{backend_port};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port}{" ssl" if tls else ""}{" deferred" if peers_defer else ""} backlog=4096;{nginx_tls}
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      # 64 KiB fits in memory: nothing goes to a temporary file.
      proxy_buffers 16 4k;
      proxy_max_temp_file_size 0;
    }}
  }}
}}
""")
        argv = ["nginx", "-p", d, "-c", path, "-g", "daemon off; master_process on;"]
    elif name in ("floor", "floor-uring"):
        # Built beside the sluice binary measured; for a copied binary, the
        # repository's own build.
        here = os.path.dirname(os.path.abspath(__file__))
        program = "floor_proxy" if name == "floor" else "floor_uring"
        floor = next((p for p in (
            os.path.join(os.path.dirname(os.path.abspath(sluice_bin)), "bench", program),
            os.path.join(here, "..", "..", "build", "bench", program)) if os.access(p, os.X_OK)),
            f"{program} (make build)")
        argv = [floor, str(port), str(backend_port)]
    else:
        raise ValueError(name)
    return Service(name, argv, d, port, cpu)


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def measure(scenario, name, backend, args, workdir, cpus):
    proxy_cpu, load_cpu = cpus
    _, kind, path = SCENARIOS[scenario]
    workers = split_workers(scenario)[1]
    if workers > 1:
        # Two workers on a 2-core machine: the proxy may run on every CPU,
        # and so may the load (one wrk thread per worker); the backend stays
        # where it is. The CPU per request is still the proxy's alone.
        proxy_cpu = load_cpu = ",".join(map(str, sorted(set(cpus))))
    proxy = None
    if name != "direct":
        clients = args.burst_count if kind == "burst" else 0
        proxy = proxy_service(name, workdir, backend.port, proxy_cpu, args.sluice, args.nofile,
                              clients, workers=workers).start()
    port = proxy.port if proxy else backend.port
    share = CpuShare(name, getattr(args, "proxy_cpu_share", 1.0) if proxy else 1.0)
    try:
        if proxy:
            share.hold(proxy.pid)
        run_wrk(port, 1, args.connections, path, load_cpu, threads=workers)  # warm-up: pools exist
        a0, r0 = backend.status()
        p0 = cpu_split(proxy.pid) if proxy else None
        t0 = task_ticks(proxy.pid) if proxy else None
        b0 = cpu_ticks(backend.pid)
        if kind == "wrk":
            res = run_wrk(port, args.duration, args.connections, path, load_cpu, threads=workers)
        elif kind == "ab":
            res = run_ab(port, args.ab_requests, args.ab_concurrency, path, load_cpu)
        elif kind == "idle":
            res = idle_memory(proxy.pid if proxy else backend.pid, port, args.idle_count,
                              IDLE_INFLIGHT, path)
            res["requests"] = res["idle_conns"]
        else:
            res = idle_after_burst(proxy.pid if proxy else backend.pid, port, args.burst_count,
                                   args.burst_wave, path)
            res["requests"] = res["idle_conns"]
        p1 = cpu_split(proxy.pid) if proxy else None
        if proxy and workers > 1:
            # Did every worker take its part? The two busiest threads' shares.
            res["split"] = "/".join(f"{x:.0f}" for x in busiest_shares(t0, task_ticks(proxy.pid)))
        b1 = cpu_ticks(backend.pid)
        a1, r1 = backend.status()
        # The second status reading is one connection and one request.
        res["backend_conns"] = a1 - a0 - 1
        res["backend_requests"] = r1 - r0 - 1
        res["reuse"] = (1 - res["backend_conns"] / res["backend_requests"]
                        if res["backend_requests"] > 0 else None)
        n = max(1, res["requests"])
        res["cpu_us_per_req"] = (sum(p1) - sum(p0)) / CLK_TCK * 1e6 / n if proxy else None
        # The proxy's own code, apart from the kernel's work for it (the
        # reads, writes and TCP on loopback, alike for every proxy).
        res["user_us_per_req"] = (p1[0] - p0[0]) / CLK_TCK * 1e6 / n if proxy else None
        res["backend_cpu_us_per_req"] = ((b1 - b0) / CLK_TCK * 1e6 / res["backend_requests"]
                                         if res["backend_requests"] > 0 else None)
        if proxy and proxy.proc.poll() is not None:
            res["errors"] += 1
            res["note"] = f"{name} exited during the load"
        elif name == "sluice-observed":
            res["note"] = f"access log: {count_lines(os.path.join(workdir, 'access.log'))} lines"
        return res
    except Exception:
        if proxy:
            sys.stderr.write(f"--- {name} log tail ---\n{proxy.log_tail()}\n")
        raise
    finally:
        share.close()
        if proxy:
            proxy.stop()


def fmt(v, spec, none="—"):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return none
    return format(v, spec)


def mean(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None and not r.get("failed_run")]
    return sum(vals) / len(vals) if vals else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def check_tools(proxies):
    need = {"wrk": "wrk", "ab": "apache2-utils", "taskset": "util-linux", "nginx": "nginx-light"}
    if "haproxy" in proxies:
        need["haproxy"] = "haproxy"
    return [pkg for tool, pkg in need.items() if shutil.which(tool) is None]


def run(args, tmp):
    """Runs every round; prints progress on stderr and the table on stdout.
    Returns the result rows (each with scenario, proxy, round)."""
    proxies = [p for p in args.proxies.split(",") if p]
    scenarios = [s for s in args.proxy_loads.split(",") if s]
    for p in proxies:
        if p not in PROXIES:
            raise SystemExit(f"unknown proxy '{p}' (expected some of {','.join(PROXIES)})")
    for s in scenarios:
        if s not in SCENARIOS:
            raise SystemExit(f"unknown load '{s}' (expected some of {','.join(SCENARIOS)})")
    if "sluice" in proxies and not os.access(args.sluice, os.X_OK):
        raise SystemExit(f"{args.sluice} not found: build it with `make build`")
    args.nofile = raise_nofile()
    args.idle_count = min(args.idle_connections, IDLE_CAP, args.nofile - 200)
    # The burst holds exactly the issue's count: HAProxy's maxconn is raised for it.
    args.burst_count = min(args.idle_connections, args.nofile - 200)
    args.burst_wave = getattr(args, "burst_wave", BURST_WAVE)
    worker_counts = [int(w) for w in str(getattr(args, "workers", "1")).split(",") if w]
    if any(w < 1 for w in worker_counts):
        raise SystemExit("--workers: counts of 1 or more")
    scenarios = [with_workers(s, w) for w in worker_counts for s in scenarios]
    cpus = cpu_pair()
    old_affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[1]})  # this script with the load, away from the proxy
    results = []
    backend = Backend(os.path.join(tmp, "backend"), cpus[1], args.nofile)
    try:
        backend.start()
        for rnd in range(1, args.rounds + 1):
            for scenario in scenarios:
                for name in proxies:
                    d = os.path.join(tmp, f"{scenario}-{name}-{rnd}")
                    os.makedirs(d)
                    row = {"scenario": scenario, "proxy": name, "round": rnd}
                    try:
                        row.update(measure(scenario, name, backend, args, d, cpus))
                    except Exception as e:  # keep the other proxies going
                        print(f"{name} {scenario} round {rnd} failed:\n{traceback.format_exc()}",
                              file=sys.stderr)
                        row.update(failed_run=True, errors=None,
                                   note=str(e).strip().splitlines()[0][:120])
                    results.append(row)
                    print(progress(row), file=sys.stderr)
    finally:
        backend.stop()
        os.sched_setaffinity(0, old_affinity)
    print_table(results, proxies, scenarios, args)
    return results


def progress(r):
    if r.get("failed_run"):
        return f"{r['proxy']} {r['scenario']} round {r['round']}: FAILED ({r['note']})"
    if r["scenario"] == "idle":
        return (f"{r['proxy']} idle round {r['round']}: {r['idle_conns']} conns, "
                f"{r['idle_bytes']:.0f} B/conn, reuse {fmt_reuse(r)}, {r['errors']} errors")
    if r["scenario"] == "burst":
        return (f"{r['proxy']} burst round {r['round']}: {r['idle_conns']} conns, "
                f"{r['idle_bytes']:.0f} B/conn settled after {r['settle_s']:.1f} s "
                f"(peak {r['peak_bytes']:.0f}), {r['errors']} errors")
    return (f"{r['proxy']} {r['scenario']} round {r['round']}: {r['rps']:.0f} req/s, "
            f"p99 {r['p99_ms']:.2f} ms, {fmt(r['cpu_us_per_req'], '.1f')} CPU-us/req, "
            f"reuse {fmt_reuse(r)}, {r['errors']} errors")


def fmt_reuse(r):
    return fmt(None if r.get("reuse") is None else 100 * r["reuse"], ".2f") + \
        ("" if r.get("reuse") is None else " %")


def print_variant_ratio(results, scenarios, top, bottom):
    """One sluice over another in the same run: `sluice-observed / sluice`
    (what metrics and a JSON access log cost), `sluice / sluice-before` (what
    one change did)."""
    print("\n| ratio (mean of rounds) | load | CPU-µs/req (lower is better) | user (lower) "
          "| req/s (higher) | p99 (lower) |")
    print("|---|---|---|---|---|---|")
    for scenario in scenarios:
        if scenario in IDLE_KINDS:
            continue
        t = [r for r in results if r["proxy"] == top and r["scenario"] == scenario]
        b = [r for r in results if r["proxy"] == bottom and r["scenario"] == scenario]
        cells = [ratio(mean(t, "cpu_us_per_req"), mean(b, "cpu_us_per_req")),
                 ratio(mean(t, "user_us_per_req"), mean(b, "user_us_per_req")),
                 ratio(mean(t, "rps"), mean(b, "rps")), ratio(mean(t, "p99_ms"), mean(b, "p99_ms"))]
        print(f"| {top} / {bottom} | {SCENARIOS[scenario][0]} | "
              + " | ".join(fmt(c, ".2f", "n/a") for c in cells) + " |")


def print_scaling(results, proxies, scenarios):
    """Each proxy against itself with one worker (issue 20: two workers).
    On a 2-core machine the load shares the CPUs, so requests/s cannot double;
    the CPU per request shows whether the workers get in each other's way."""
    rows = [(s, *split_workers(s)) for s in scenarios if split_workers(s)[1] > 1]
    rows = [(s, base, w) for s, base, w in rows if base in scenarios and base not in IDLE_KINDS]
    if not rows:
        return
    print("\n| proxy | load | workers | CPU-µs/req, N workers / 1 (flat is 1.00) "
          "| req/s, N workers / 1 |")
    print("|---|---|---|---|---|")
    for name in proxies:
        if name in ("direct", "floor", "floor-uring"):  # the backend's workers; one thread
            continue
        for key, base, w in rows:
            n = [r for r in results if r["proxy"] == name and r["scenario"] == key]
            one = [r for r in results if r["proxy"] == name and r["scenario"] == base]
            cells = [ratio(mean(n, "cpu_us_per_req"), mean(one, "cpu_us_per_req")),
                     ratio(mean(n, "rps"), mean(one, "rps"))]
            print(f"| {name} | {SCENARIOS[base][0]} | {w} | "
                  + " | ".join(fmt(c, ".2f", "n/a") for c in cells) + " |")


def print_table(results, proxies, scenarios, args):
    print(f"\n## Proxy: one nginx backend, one worker per proxy, proxy on CPU {cpu_pair()[0]}, "
          f"backend + load on CPU {cpu_pair()[1]} (loads marked \"N workers\": the proxy "
          f"with N, proxy and load (wrk -tN) on every CPU, the backend where it was)"
          + (f"; each proxy held to {args.proxy_cpu_share:g} of a CPU (a cgroup quota: never idle, "
             "so its CPU per request is its work)"
             if getattr(args, "proxy_cpu_share", 1.0) < 1 else "") + "\n")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s; ab -n {args.ab_requests} "
          f"-c {args.ab_concurrency} (no -k); {args.idle_count} idle keep-alive client connections; "
          f"burst: {args.burst_count} clients arriving {args.burst_wave} at a time, one GET each, "
          "then idle, RSS read once settled. "
          "CPU-µs/req: the proxy's processes only; user: the part of it spent in "
          "user space (the rest is the kernel's); backend CPU-µs/req: the backend nginx; "
          "reuse: 1 - new backend connections / requests the backend served (for direct: "
          "the client's own).\n")
    print("| load | proxy | round | req/s | p50 ms | p99 ms | CPU-µs/req | user | backend CPU-µs/req "
          "| backend reuse | idle B/conn | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        label = SCENARIOS[r["scenario"]][0]
        if r.get("failed_run"):
            print(f"| {label} | {r['proxy']} | {r['round']} | FAILED: {r['note']} | | | | | | | | |")
            continue
        idle = r["scenario"] in IDLE_KINDS
        err = str(r["errors"]) if not r["errors"] else f"**{r['errors']}**"
        if r.get("non_2xx"):
            err += f" ({r['non_2xx']} non-2xx)"
        if r.get("note"):
            err += f" {r['note']}"
        if r.get("split"):
            err += f" (busiest threads: {r['split']} % of its CPU)"
        print(f"| {label} | {r['proxy']} | {r['round']} "
              f"| {'—' if idle else fmt(r['rps'], '.0f')} "
              f"| {'—' if idle else fmt(r['p50_ms'], '.2f')} | {'—' if idle else fmt(r['p99_ms'], '.2f')} "
              f"| {fmt(r['cpu_us_per_req'], '.2f')} | {fmt(r.get('user_us_per_req'), '.2f')} "
              f"| {fmt(r['backend_cpu_us_per_req'], '.2f')} "
              f"| {fmt_reuse(r)} "
              f"| {fmt(r['idle_bytes'], '.0f') + ' (' + str(r['idle_conns']) + ')' if idle else '—'} "
              f"| {err} |")

    print_scaling(results, proxies, scenarios)
    if "sluice" not in proxies:
        return
    if "sluice-observed" in proxies:
        print_variant_ratio(results, scenarios, "sluice-observed", "sluice")
    if "sluice-before" in proxies:
        print_variant_ratio(results, scenarios, "sluice", "sluice-before")
    others = [p for p in ("haproxy", "nginx") if p in proxies]
    # The floor against the peers shows how far under them a proxy can go on
    # this machine; sluice against the floor, what its HTTP work costs.
    pairs = [("sluice", o) for o in others]
    if "floor" in proxies:
        pairs += [("floor", o) for o in others] + [("sluice", "floor")]
    if "floor-uring" in proxies:
        pairs += [("floor-uring", o) for o in others + (["floor"] if "floor" in proxies else [])]
    if not pairs:
        return
    print("\n| ratio (mean of rounds) | load | CPU-µs/req (lower is better) | user (lower) "
          "| req/s (higher) | p99 (lower) | idle B/conn (lower) | note |")
    print("|---|---|---|---|---|---|---|---|")
    for top, other in pairs:
        for scenario in scenarios:
            s = [r for r in results if r["proxy"] == top and r["scenario"] == scenario]
            o = [r for r in results if r["proxy"] == other and r["scenario"] == scenario]
            idle = scenario in IDLE_KINDS
            cells = [ratio(mean(s, "cpu_us_per_req"), mean(o, "cpu_us_per_req")),
                     ratio(mean(s, "user_us_per_req"), mean(o, "user_us_per_req"))]
            cells += [None, None, ratio(mean(s, "idle_bytes"), mean(o, "idle_bytes"))] if idle else \
                [ratio(mean(s, "rps"), mean(o, "rps")), ratio(mean(s, "p99_ms"), mean(o, "p99_ms")), None]
            bad = [n for n, rows in ((top, s), (other, o))
                   if any(r.get("failed_run") or r.get("errors") for r in rows)]
            note = f"errors from {' and '.join(bad)}: not comparable" if bad else ""
            floors = ("floor", "floor-uring")
            if (top in floors or other in floors) and split_workers(scenario)[0] in ("newconn", *IDLE_KINDS):
                note = (note + " " if note else "") + "not a floor: no pool, 16 KiB buffered a side"
            print(f"| {top} / {other} | {SCENARIOS[scenario][0]} | "
                  + " | ".join(fmt(c, ".2f", "n/a") for c in cells) + f" | {note} |")
