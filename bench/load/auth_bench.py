"""Forward-auth benchmark (issue 18): sluice's `forward_auth` middleware
against nginx's `auth_request`, in front of the proxy scenario's nginx
backend, which also plays the auth server (`/allow` answers 204).

Method (../shared/benchmarking.md, docs/benchmarks.md "Forward auth"): the
proxy set-up of proxy_bench.py (one worker each, the proxy alone on CPU 0,
backend, auth server and load on CPU 1, started fresh for every load, a 1 s
warm-up, CPU from /proc), wrk keep-alive `GET /` with an `Authorization`
field, and:
- `plain`: no auth at all, the floor the other loads add to;
- `auth`: every request asked of the auth server first (sluice without a
  decision cache; nginx `auth_request` to an upstream with keep-alive);
- `cached`: decisions remembered by `Authorization` (sluice
  `cache: {key: [Authorization]}`; nginx `proxy_cache` on the auth
  location, keyed by the same field), so the auth server sees the first
  request only;
- the same idle connections kept to the auth server (sluice `max_idle: 64`
  per worker, nginx `keepalive 64`), so neither opens connections under
  the load's 50 clients;
- auth requests per client request, read from the backend's own counters
  (its requests minus the client's): 1 for `auth`, ~0 for `cached`; and the
  auth connections the proxy opened, which stay at most its pool's size.
HAProxy has no forward auth without Lua or SPOE: it is not in this table.
Loopback only; every load bounded in time; everything started is stopped by
process group.
"""
import os
import sys
import traceback

from benchlib import CLK_TCK, Service, cpu_pair, cpu_ticks, free_port, raise_nofile, run_wrk
import proxy_bench
from proxy_bench import Backend, fmt, mean, ratio

PROXIES = ("sluice", "nginx")
LOADS = {
    # name: (label, auth, cached)
    "plain": ("no auth, GET / (612 B)", False, False),
    "auth": ("forward auth, every request asked", True, False),
    "cached": ("forward auth, decisions cached", True, True),
}
TOKEN = "Authorization: Bearer bench-token"


def proxy_service(name, workdir, backend_port, cpu, sluice_bin, nofile, auth, cached):
    d = workdir
    port = free_port()
    if name == "sluice":
        attach = "\n    middlewares: [auth]" if auth else ""
        cache = "\n      cache: {key: [Authorization], allow_ttl: 300s}" if cached else ""
        middlewares = f"""
middlewares:
  auth:
    forward_auth:
      address: http://127.0.0.1:{backend_port}/allow
      request_headers: [Authorization, Cookie]
      max_idle: 64{cache}
""" if auth else ""
        path = os.path.join(d, "sluice.yaml")
        with open(path, "w") as f:
            f.write(f"""workers: 1
log: {{level: warn}}
listeners:
  - name: web
    listen: 127.0.0.1:{port}
    timeouts: {{idle: 300s}}
routes:
  - name: all
    backend: app{attach}
backends:
  app:
    servers:
      - address: 127.0.0.1:{backend_port}
    pool:
      max_idle_per_server: 256
      idle_timeout: 300s
{middlewares}""")
        argv = [sluice_bin, "run", "-c", path]
    elif name == "nginx":
        cache_path = f"proxy_cache_path {d}/auth-cache keys_zone=auth:1m;" if cached else ""
        cache = """
      proxy_cache auth;
      proxy_cache_key $http_authorization;
      proxy_cache_valid 204 300s;""" if cached else ""
        auth_request = "auth_request /_auth;" if auth else ""
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(f"""worker_processes 1;
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
  {cache_path}
  upstream app {{
    server 127.0.0.1:{backend_port};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      {auth_request}
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }}
    location = /_auth {{
      internal;
      proxy_pass http://app/allow;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Host $http_host;{cache}
    }}
  }}
}}
""")
        argv = ["nginx", "-p", d, "-c", path, "-g", "daemon off; master_process on;"]
    else:
        raise ValueError(name)
    return Service(name, argv, d, port, cpu)


def measure(load, name, backend, args, workdir, cpus):
    proxy_cpu, load_cpu = cpus
    _, auth, cached = LOADS[load]
    proxy = proxy_service(name, workdir, backend.port, proxy_cpu, args.sluice, args.nofile, auth,
                          cached).start()
    try:
        run_wrk(proxy.port, 1, args.connections, "/", load_cpu, headers=(TOKEN,))  # warm-up
        a0, r0 = backend.status()
        p0 = cpu_ticks(proxy.pid)
        res = run_wrk(proxy.port, args.duration, args.connections, "/", load_cpu,
                      headers=(TOKEN,))
        p1 = cpu_ticks(proxy.pid)
        a1, r1 = backend.status()
        n = max(1, res["requests"])
        res["cpu_us_per_req"] = (p1 - p0) / CLK_TCK * 1e6 / n
        # The second status reading is one connection and one request.
        backend_requests = r1 - r0 - 1
        res["auth_per_req"] = max(0, backend_requests - res["requests"]) / n
        res["backend_conns"] = a1 - a0 - 1
        if proxy.proc.poll() is not None:
            res["errors"] += 1
            res["note"] = f"{name} exited during the load"
        return res
    except Exception:
        sys.stderr.write(f"--- {name} log tail ---\n{proxy.log_tail()}\n")
        raise
    finally:
        proxy.stop()


def check_tools():
    return [p for p in proxy_bench.check_tools(["nginx"]) if p != "apache2-utils"]


def run(args, tmp):
    proxies = [p for p in args.auth_proxies.split(",") if p]
    loads = [x for x in args.auth_loads.split(",") if x]
    for p in proxies:
        if p not in PROXIES:
            raise SystemExit(f"unknown proxy '{p}' (expected some of {','.join(PROXIES)})")
    for x in loads:
        if x not in LOADS:
            raise SystemExit(f"unknown load '{x}' (expected some of {','.join(LOADS)})")
    args.nofile = raise_nofile()
    cpus = cpu_pair()
    old_affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[1]})
    results = []
    backend = Backend(os.path.join(tmp, "backend"), cpus[1], args.nofile)
    try:
        backend.start()
        for rnd in range(1, args.rounds + 1):
            for load in loads:
                for name in proxies:
                    d = os.path.join(tmp, f"{load}-{name}-{rnd}")
                    os.makedirs(d)
                    row = {"scenario": load, "proxy": name, "round": rnd}
                    try:
                        row.update(measure(load, name, backend, args, d, cpus))
                    except Exception as e:
                        print(f"{name} {load} round {rnd} failed:\n{traceback.format_exc()}",
                              file=sys.stderr)
                        row.update(failed_run=True, errors=None,
                                   note=str(e).strip().splitlines()[0][:120])
                    results.append(row)
                    print(progress(row), file=sys.stderr)
    finally:
        backend.stop()
        os.sched_setaffinity(0, old_affinity)
    print_table(results, proxies, loads, args)
    return results


def progress(r):
    if r.get("failed_run"):
        return f"{r['proxy']} {r['scenario']} round {r['round']}: FAILED ({r['note']})"
    return (f"{r['proxy']} {r['scenario']} round {r['round']}: {r['rps']:.0f} req/s, "
            f"p99 {r['p99_ms']:.2f} ms, {r['cpu_us_per_req']:.1f} CPU-us/req, "
            f"{r['auth_per_req']:.3f} auth requests per request, {r['errors']} errors")


def print_table(results, proxies, loads, args):
    print(f"\n## Forward auth: one nginx backend (also the auth server), one worker per proxy, "
          f"proxy on CPU {cpu_pair()[0]}, backend + load on CPU {cpu_pair()[1]}\n")
    print(f"wrk -t1 -c{args.connections} -d{args.duration}s, `{TOKEN}` on every request. "
          "auth/req: requests the auth server answered per client request.\n")
    print("| load | proxy | round | req/s | p50 ms | p99 ms | CPU-µs/req | auth/req | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        label = LOADS[r["scenario"]][0]
        if r.get("failed_run"):
            print(f"| {label} | {r['proxy']} | {r['round']} | FAILED: {r['note']} | | | | | |")
            continue
        err = str(r["errors"]) if not r["errors"] else f"**{r['errors']}**"
        print(f"| {label} | {r['proxy']} | {r['round']} | {r['rps']:.0f} | {r['p50_ms']:.2f} "
              f"| {r['p99_ms']:.2f} | {r['cpu_us_per_req']:.2f} | {r['auth_per_req']:.3f} | {err} |")
    if "sluice" not in proxies or "nginx" not in proxies:
        return
    print("\n| ratio (mean of rounds) | load | CPU-µs/req (lower is better) | req/s (higher) "
          "| p99 (lower) | note |")
    print("|---|---|---|---|---|---|")
    for load in loads:
        s = [r for r in results if r["proxy"] == "sluice" and r["scenario"] == load]
        o = [r for r in results if r["proxy"] == "nginx" and r["scenario"] == load]
        bad = [n for n, rows in (("sluice", s), ("nginx", o))
               if any(r.get("failed_run") or r.get("errors") for r in rows)]
        note = f"errors from {' and '.join(bad)}: not comparable" if bad else ""
        cells = [ratio(mean(s, "cpu_us_per_req"), mean(o, "cpu_us_per_req")),
                 ratio(mean(s, "rps"), mean(o, "rps")), ratio(mean(s, "p99_ms"), mean(o, "p99_ms"))]
        print(f"| sluice / nginx | {LOADS[load][0]} | "
              + " | ".join(fmt(c, ".2f", "n/a") for c in cells) + f" | {note} |")
