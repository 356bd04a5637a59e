#!/usr/bin/env python3
"""TCP (layer 4) throughput: sluice's `protocol: tcp` listener beside HAProxy
in `mode tcp`, and the transfer straight from the backend, in one run.

One nginx (one worker, sendfile) serves a 1 GiB file from the page cache;
curl downloads it ROUNDS times through each proxy to /dev/null. Each proxy
runs one worker/thread pinned to CPU 0; nginx and curl share CPU 1. Figures:
GiB/s (wall clock of the downloads) and CPU-seconds per GiB of the proxy's
processes (/proc utime + stime). Loopback only; every transfer bounded.

Usage: python3 bench/load/tcp_bench.py [--sluice build/sluice] [--rounds 3] [--gib 1]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import CLK_TCK, Service, cpu_ticks, free_port  # noqa: E402


def download(port, path, gib):
    t0 = time.monotonic()
    r = subprocess.run(["taskset", "-c", "1", "curl", "-s", "-o", "/dev/null", "-m", "120",
                        "-w", "%{size_download}", f"http://127.0.0.1:{port}{path}"],
                       capture_output=True, text=True, timeout=150)
    elapsed = time.monotonic() - t0
    if r.returncode != 0 or int(float(r.stdout or 0)) != gib << 30:
        raise RuntimeError(f"download through port {port} failed: rc={r.returncode} {r.stdout}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sluice", default="build/sluice")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gib", type=int, default=1)
    args = ap.parse_args()
    for tool in ("nginx", "haproxy", "curl", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: run scripts/install-deps.sh bench")
    d = tempfile.mkdtemp(prefix="sluice-tcp-bench-")
    os.chmod(d, 0o755)
    os.makedirs(os.path.join(d, "www"))
    big = os.path.join(d, "www", "big")
    with open(big, "wb") as f:
        f.truncate(args.gib << 30)  # sparse: served from the page cache
    os.chmod(os.path.join(d, "www"), 0o755)
    os.chmod(big, 0o644)
    backend_port = free_port()
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 64; }}
http {{ access_log off; sendfile on;
  server {{ listen 127.0.0.1:{backend_port}; root {d}/www; }} }}
""")
    services = []
    try:
        nginx = Service("nginx", ["nginx", "-c", f"{d}/nginx.conf"], d, backend_port, 1).start()
        services.append(nginx)
        peers = {}
        sp = free_port()
        with open(os.path.join(d, "sluice.yaml"), "w") as f:
            f.write(f"""workers: 1
listeners:
  - {{name: tcp, listen: '127.0.0.1:{sp}', protocol: tcp, backend: app}}
backends:
  app: {{servers: ['127.0.0.1:{backend_port}']}}
""")
        peers["sluice"] = Service("sluice", [os.path.abspath(args.sluice), "run", "-c",
                                             f"{d}/sluice.yaml"], d, sp, 0)
        hp = free_port()
        with open(os.path.join(d, "haproxy.cfg"), "w") as f:
            f.write(f"""global
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen tcp
  bind 127.0.0.1:{hp}
  server s 127.0.0.1:{backend_port}
""")
        peers["haproxy"] = Service("haproxy", ["haproxy", "-db", "-f", f"{d}/haproxy.cfg"], d, hp, 0)
        results = {name: [] for name in list(peers) + ["direct"]}
        for p in peers.values():
            p.start()
            services.append(p)
        download(backend_port, "/big", args.gib)  # warm the page cache
        for rnd in range(args.rounds):
            for name in list(peers) + ["direct"]:
                port = backend_port if name == "direct" else peers[name].port
                before = cpu_ticks(peers[name].pid) if name in peers else 0
                t = download(port, "/big", args.gib)
                cpu = (cpu_ticks(peers[name].pid) - before) / CLK_TCK if name in peers else None
                results[name].append((t, cpu))
                print(f"{name} round {rnd + 1}: {args.gib / t:.2f} GiB/s"
                      + (f", {cpu / args.gib:.3f} CPU-s/GiB" if cpu is not None else ""),
                      file=sys.stderr)
    finally:
        for s in reversed(services):
            s.stop()
    print(f"\n## TCP mode: {args.gib} GiB download x {args.rounds} rounds, nginx backend, "
          "proxy on CPU 0, nginx + curl on CPU 1\n")
    print("| peer | GiB/s (mean) | CPU-s per GiB (mean) |\n|---|---|---|")
    means = {}
    for name, rows in results.items():
        gibs = sum(args.gib / t for t, _ in rows) / len(rows)
        cpus = [c for _, c in rows if c is not None]
        cpu = sum(cpus) / len(cpus) / args.gib if cpus else None
        means[name] = (gibs, cpu)
        print(f"| {name} | {gibs:.2f} | {'—' if cpu is None else f'{cpu:.3f}'} |")
    s, h = means["sluice"], means["haproxy"]
    print(f"\n| ratio | GiB/s (higher is better) | CPU-s per GiB (lower is better) |\n|---|---|---|")
    print(f"| sluice / haproxy | {s[0] / h[0]:.2f} | {s[1] / h[1]:.2f} |")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
