#!/usr/bin/env python3
"""make release: the training load of the profile-guided build.

Runs the sluice built with counters (SLUICE_PGO=generate) on the proxy
benchmark's set-up (bench/load/proxy_bench.py: one nginx backend, loopback
only) under the loads the benchmark measures, each bounded in time or count:
keep-alive `/`, keep-alive `/64k`, a new connection per request, and a
chunked body both ways through the same route. Then stops it with SIGTERM, so
that it exits and writes its counters (into the build's SLUICE_PGO_DIR).

What the training never runs (TLS, HTTP/2, the middlewares) is built as
without a profile (-fprofile-partial-training), so it is not slower than in
the normal build; what it runs is laid out for it."""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_pair, raise_nofile, run_ab, run_wrk  # noqa: E402
from proxy_bench import Backend, proxy_service  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", required=True, help="the binary built with SLUICE_PGO=generate")
    ap.add_argument("--seconds", type=int, default=4, help="length of each keep-alive load")
    args = ap.parse_args()
    nofile = raise_nofile()
    proxy_cpu, load_cpu = cpu_pair()
    with tempfile.TemporaryDirectory(prefix="sluice-pgo-") as tmp:
        backend = Backend(os.path.join(tmp, "backend"), load_cpu, nofile).start()
        workdir = os.path.join(tmp, "sluice")
        os.makedirs(workdir)
        proxy = proxy_service("sluice", workdir, backend.port, proxy_cpu,
                              os.path.abspath(args.sluice), nofile).start()
        process = proxy.proc  # stop() forgets it
        try:
            n = run_wrk(proxy.port, args.seconds, 50, "/", load_cpu)["requests"]
            n += run_wrk(proxy.port, args.seconds, 50, "/64k", load_cpu)["requests"]
            n += run_ab(proxy.port, 5000, 10, "/", load_cpu)["requests"]
            # A body each way, chunked: the request streams to the backend.
            for _ in range(200):
                subprocess.run(["curl", "-sS", "-o", os.devnull, "-H", "Transfer-Encoding: chunked",
                                "--data-binary", "x" * 3000,
                                f"http://127.0.0.1:{proxy.port}/"], check=True)
            print(f"pgo_train: {n + 200} requests through {args.sluice}")
        finally:
            proxy.stop()  # SIGTERM: sluice exits and writes its counters
            backend.stop()
    if process.returncode != 0:
        sys.exit(f"pgo_train: sluice exited with {process.returncode}; its profile may be missing")


if __name__ == "__main__":
    main()
