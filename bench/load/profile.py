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

--instructions instead runs the proxy under valgrind's callgrind and counts
the user-space instructions it executes per request (keep-alive loads):

  OUT/instructions.txt  instructions per request, then by function
  OUT/callgrind.out.*   the counts (`callgrind_annotate --auto=yes` for lines)

The count does not depend on how busy the machine is, so a change of a few
per cent in the proxy's own work shows here when the load figures' noise
hides it. It says nothing of the kernel's share (see syscalls.txt).

Loads: ka (wrk keep-alive `/`), ka64k (`/64k`), newconn (ab without -k).
Loopback only; every load bounded in time and count.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

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
    ap.add_argument("--instructions", action="store_true",
                    help="count user-space instructions per request under callgrind")
    ap.add_argument("--counted", type=int, default=20000,
                    help="requests the backend serves while instructions are counted")
    args = ap.parse_args()
    if args.instructions:
        return instructions(args)
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


def instructions(args):
    """The proxy under callgrind: a warm-up load, then the counters zeroed and
    dumped while a second load runs, around `--counted` requests counted at
    the backend. callgrind_control acts when the process next runs, so every
    control step happens while a load keeps the proxy busy."""
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate", "wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"profile: {tool} is not installed (scripts/install-deps.sh bench)")
    kind, path = LOADS[args.load]
    if kind != "wrk":
        sys.exit("profile: --instructions counts keep-alive loads (ka, ka64k)")
    if args.proxy == "nginx":
        # Its worker is a fork of the master, which callgrind_control does not
        # reach; the master sleeps through the load.
        sys.exit("profile: --instructions runs sluice, haproxy or floor")
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    # valgrind keeps a few descriptors of its own above the limit it leaves.
    nofile = raise_nofile() - 64
    proxy_cpu, load_cpu = cpu_pair()
    with tempfile.TemporaryDirectory(prefix="sluice-instructions-") as tmp:
        backend = Backend(os.path.join(tmp, "backend"), load_cpu, nofile).start()
        workdir = os.path.join(tmp, args.proxy)
        os.makedirs(workdir)
        proxy = proxy_service(args.proxy, workdir, backend.port, proxy_cpu,
                              os.path.abspath(args.sluice), nofile)
        dumps = os.path.join(tmp, "callgrind")
        os.makedirs(dumps)
        proxy.argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                      f"--callgrind-out-file={dumps}/out.%p"] + proxy.argv
        proxy.start(timeout=120)
        try:
            # Long enough to hold the proxy busy through every step below; the
            # steps end it early when done.
            wrk = subprocess.Popen(["taskset", "-c", str(load_cpu), "wrk", "-t1", "-c10",
                                    f"-d{max(args.seconds, 120)}s",
                                    f"http://127.0.0.1:{proxy.port}{path}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                # Named by pid: other callgrind runs on the machine are not ours.
                pids = [str(proxy.pid)]
                control = lambda flag: subprocess.run(["callgrind_control", flag] + pids,
                                                      check=True, capture_output=True, timeout=120)
                control("--instr=on")
                wait_served(backend, 2000)  # warm-up under instrumentation
                control("--zero")
                first = served(backend)
                wait_served(backend, args.counted)
                control("--dump")
                last = served(backend)
            finally:
                wrk.terminate()
                wrk.wait(timeout=30)
        finally:
            proxy.stop()
            backend.stop()
        count = last - first
        # Kept beside the report: `callgrind_annotate --auto=yes FILE` shows
        # the count of each source line.
        files = []
        for name in os.listdir(dumps):
            if name.endswith(".1"):
                files.append(os.path.join(out, "callgrind." + name))
                shutil.copy(os.path.join(dumps, name), files[-1])
        total = sum(callgrind_total(f) for f in files)
        report = os.path.join(out, "instructions.txt")
        with open(report, "w") as f:
            f.write(f"# {args.proxy} under {args.load} (wrk -c10 {path}): {count} requests, "
                    f"{total} instructions, {total / count:.0f} per request\n")
            f.flush()
            for dump in files:
                subprocess.run(["callgrind_annotate", "--threshold=98", dump], stdout=f,
                               stderr=subprocess.DEVNULL, check=False)
    print(f"profile: {args.proxy}: {total / count:.0f} instructions per request "
          f"({count} requests); by function in {report}")


def served(backend):
    """Requests the backend has served for others than these readings: each
    reading is one connection and one request of its own."""
    accepted, requests = backend.status()
    return requests - accepted


def wait_served(backend, count, timeout=300.0):
    """Returns once the backend has served `count` more requests."""
    start = served(backend)
    deadline = time.monotonic() + timeout
    while served(backend) - start < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the backend served fewer than {count} requests in {timeout:.0f} s")
        time.sleep(0.1)  # pacing the readings, which the backend serves too


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


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
