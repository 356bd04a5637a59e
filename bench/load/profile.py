"""make profile: where sluice spends its CPU under a load, as a `perf` report.

The same set-up as the proxy benchmark (proxy_bench.py): one nginx backend,
sluice with one worker alone on CPU 0, the load on CPU 1. While the load
runs, `perf record` samples sluice (cpu-clock: hardware counters are not
available everywhere) with call graphs; then the report is written:

  OUT/perf.data     the samples (`perf report -i OUT/perf.data` to browse)
  OUT/report.txt    flat profile: self time by symbol, and by library
  OUT/syscalls.txt  system calls per request (strace -c over a short,
                    separate, bounded load; strace slows sluice, so these are
                    counts, not times)

Loads: ka (wrk keep-alive `/`), ka64k (`/64k`), newconn (ab without -k).
Loopback only; every load bounded in time and count.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from benchlib import cpu_pair, process_tree, raise_nofile, run_ab, run_wrk
from proxy_bench import Backend, proxy_service

LOADS = {"ka": ("wrk", "/"), "ka64k": ("wrk", "/64k"), "newconn": ("ab", "/")}


def load(kind, port, path, seconds, cpu, requests):
    if kind == "wrk":
        return run_wrk(port, seconds, 50, path, cpu)["requests"]
    return run_ab(port, requests, 10, path, cpu)["requests"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sluice", default="build/sluice")
    ap.add_argument("--proxy", choices=("sluice", "haproxy", "nginx", "floor"), default="sluice",
                    help="profile a peer instead, on the same set-up, to compare")
    ap.add_argument("--load", choices=sorted(LOADS), default="ka")
    ap.add_argument("--seconds", type=int, default=8, help="length of the sampled load")
    ap.add_argument("--requests", type=int, default=20000, help="ab's request count (newconn)")
    ap.add_argument("--out", default="build/profile")
    ap.add_argument("--no-syscalls", action="store_true")
    args = ap.parse_args()
    for tool in ("perf", "wrk", "ab", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"profile: {tool} is not installed (make deps)")
    args.sluice = os.path.abspath(args.sluice)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    nofile = raise_nofile()
    proxy_cpu, load_cpu = cpu_pair()
    kind, path = LOADS[args.load]
    with tempfile.TemporaryDirectory(prefix="sluice-profile-") as tmp:
        backend = Backend(os.path.join(tmp, "backend"), load_cpu, nofile).start()
        workdir = os.path.join(tmp, "sluice")
        os.makedirs(workdir)
        proxy = proxy_service(args.proxy, workdir, backend.port, proxy_cpu, args.sluice, nofile).start()
        try:
            run_wrk(proxy.port, 1, 50, path, load_cpu)  # warm-up: the pool exists
            data = os.path.join(out, "perf.data")
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4999", "-g",
                                     "-o", data, "-p", ",".join(map(str, process_tree(proxy.pid)))],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                n = load(kind, proxy.port, path, args.seconds, load_cpu, args.requests)
            finally:
                perf.send_signal(2)
                perf.wait(timeout=60)
            with open(os.path.join(out, "report.txt"), "w") as f:
                f.write(f"# {args.proxy} under {args.load} ({kind} {path}): {n} requests sampled\n")
                for sort in ("dso", "dso,sym"):
                    f.flush()
                    subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                    "-g", "none", "--percent-limit", "0.3", "--sort", sort],
                                   stdout=f, stderr=subprocess.DEVNULL, check=False)
            print(f"profile: {n} requests; report in {out}/report.txt")
            if not args.no_syscalls and shutil.which("strace"):
                syscalls(proxy, path, kind, load_cpu, out, args.load)
        finally:
            proxy.stop()
            backend.stop()


def syscalls(proxy, path, kind, cpu, out, name):
    """System calls per request over a short bounded load (ab, 2,000 requests)."""
    report = os.path.join(out, "syscalls.txt")
    pids = [a for p in process_tree(proxy.pid) for a in ("-p", str(p))]
    st = subprocess.Popen(["strace", "-c", "-f", "-o", report] + pids,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # ab with -k for the keep-alive loads: one client connection, reused.
        keep = ["-k"] if kind == "wrk" else []
        ab = subprocess.run(["taskset", "-c", str(cpu), "ab", "-q", "-n", "2000", "-c", "1"] + keep
                            + [f"http://127.0.0.1:{proxy.port}{path}"],
                            capture_output=True, text=True, timeout=300)
        n = 2000 if "Complete requests:      2000" in ab.stdout else 0
    finally:
        st.send_signal(2)
        st.wait(timeout=60)
    with open(report) as f:
        text = f.read()
    with open(report, "w") as f:
        f.write(f"# {n} requests by ab -c1 ({'a new connection each' if kind == 'ab' else 'keep-alive'})\n")
        f.write(text)
    print(f"profile: system calls for {n} requests in {report}")


if __name__ == "__main__":
    main()
