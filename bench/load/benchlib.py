"""Helpers shared by the load benchmarks (run.py, proxy_bench.py).

Process accounting from /proc, a started-process wrapper that stops its whole
process group, wrk and ab runners that return numbers (errors included rather
than raised), and the idle-connection memory probes (connections opened a
few at a time, or in bursts that must be given back).
"""
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import time

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


def cpu_split(pid):
    """(utime, stime) of pid and its descendants, every thread included: what
    the proxy's own code spent, and what the kernel spent for it."""
    user = system = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11])  # utime (field 14)
            system += int(fields[12])  # stime (field 15)
        except OSError:
            pass
    return user, system


def cpu_ticks(pid):
    """utime + stime of pid and its descendants, every thread included."""
    return sum(cpu_split(pid))


def task_ticks(pid):
    """{thread id: utime + stime} for every thread of pid and its descendants:
    how the work was split between a proxy's workers (threads or processes)."""
    ticks = {}
    for p in process_tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks[int(tid)] = int(fields[11]) + int(fields[12])
            except OSError:
                pass
    return ticks


def busiest_shares(before, after, count=2):
    """The `count` largest per-thread shares (in %) of the CPU time spent
    between two task_ticks readings, largest first."""
    deltas = sorted((after[t] - before.get(t, 0) for t in after), reverse=True)
    total = sum(deltas)
    return [100.0 * d / total for d in deltas[:count]] if total > 0 else []


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


def cpu_pair():
    """(CPU for the process under test, CPU for the load and the backend).

    0 and 1 on the 2-core machine; the same CPU twice where only one is
    allowed (then nothing is separated, but the figures still come out)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], cpus[1] if len(cpus) > 1 else cpus[0]


def raise_nofile():
    """Soft descriptor limit up to the hard one; returns the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Service:
    """A process started in its own session, pinned to one CPU, stopped by
    process group (SIGTERM, then SIGKILL after 15 s)."""

    def __init__(self, name, argv, workdir, port, cpu):
        self.name, self.argv, self.workdir, self.port, self.cpu = name, argv, workdir, port, cpu
        self.proc = None
        self.log = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=10.0):
        self.log = open(os.path.join(self.workdir, f"{self.name}.log"), "w+")
        self.proc = subprocess.Popen(["taskset", "-c", str(self.cpu)] + self.argv,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.workdir)
        if not wait_port(self.port, self.proc, timeout):
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"{self.name} did not start listening on port {self.port}:\n{tail}")
        return self

    def log_tail(self, n=2000):
        if not self.log:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-n:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise RuntimeError(f"unexpected wrk latency '{text}'")
    v, unit = float(m.group(1)), m.group(2)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[unit]


def run_wrk(port, duration, connections, path="/", cpu=1, scheme="http", headers=(), threads=1):
    """wrk keep-alive load (-t1 unless told). errors = non-2xx/3xx answers +
    socket errors.
    scheme "https": over TLS (a handshake per connection, then keep-alive).
    headers: more request fields, "Name: value"."""
    extra = [a for h in headers for a in ("-H", h)]
    out = subprocess.run(
        ["taskset", "-c", str(cpu), "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
        + extra + [f"{scheme}://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=duration + 60).stdout
    # Percentiles only from the "Latency Distribution" lines ("     99%    3.91ms"),
    # not from a thread-stats column such as "98.99%".
    pct = {p: re.search(rf"^\s+{p}%\s+(\S+)\s*$", out, re.M) for p in (50, 99)}
    if not (re.search(r"(\d+) requests in", out) and re.search(r"Requests/sec:", out)
            and all(pct.values())):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    res = {"requests": int(re.search(r"(\d+) requests in", out).group(1))}
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    res["p50_ms"] = to_ms(pct[50].group(1))
    res["p99_ms"] = to_ms(pct[99].group(1))
    res["non_2xx"] = 0
    res["socket_errors"] = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non_2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["socket_errors"] = sum(int(x) for x in m.groups())
    res["errors"] = res["non_2xx"] + res["socket_errors"]
    return res


def run_ab(port, requests, concurrency, path="/", cpu=1, timeout=600, scheme="http"):
    """ab without -k: a new connection (HTTP/1.0, no keep-alive) per request.
    scheme "https": a full TLS handshake per request (ab never offers a
    session; tls_bench.py checks that it does not resume).

    -r keeps ab going after a receive error so a failing peer is counted,
    not fatal. errors = ab's failed requests + non-2xx answers. Its
    percentiles are whole milliseconds."""
    proc = subprocess.run(
        ["taskset", "-c", str(cpu), "ab", "-q", "-r", "-s", "10", "-n", str(requests),
         "-c", str(concurrency), f"{scheme}://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, timeout=timeout)
    out = proc.stdout
    m = re.search(r"Complete requests:\s+(\d+)", out)
    if not m:
        raise RuntimeError(f"ab did not finish (exit {proc.returncode}):\n{out[-1500:]}{proc.stderr[-1500:]}")
    res = {"requests": int(m.group(1))}
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct in (50, 99):
        m = re.search(rf"^\s*{pct}%\s+(\d+)", out, re.M)
        res[f"p{pct}_ms"] = float(m.group(1)) if m else float("nan")
    m = re.search(r"Failed requests:\s+(\d+)", out)
    res["failed"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    res["errors"] = res["failed"] + res["non_2xx"] + (requests - res["requests"])
    m = re.search(r"SSL/TLS Protocol:\s+(\S+)", out)  # "TLSv1.3,TLS_AES_256_GCM_SHA384,256,256"
    if m:
        res["tls"] = m.group(1)
    return res


class _Answer:
    """Just enough HTTP/1.1 response reading to know when one answer ended."""
    __slots__ = ("buf", "status", "need", "chunked")

    def __init__(self):
        self.buf = bytearray()
        self.status = None
        self.need = None  # body bytes still expected; None: until close
        self.chunked = False

    def feed(self, data):
        """True once the whole answer is in."""
        self.buf += data
        if self.status is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            try:
                self.status = int(head[0].split(" ", 2)[1])
            except (IndexError, ValueError):
                self.status = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "content-length" and value.isdigit():
                    self.need = int(value)
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
            del self.buf[:end + 4]
            if self.status in (204, 304) or 100 <= self.status < 200:
                self.need = 0
        if self.chunked:
            return self.buf.endswith(b"0\r\n\r\n")
        return self.need is not None and len(self.buf) >= self.need


def _answer_reader(sel, state):
    """A selector callback that reads one answer per connection, then stops
    watching it, counting it in state (pending, non_2xx, closed)."""
    def on_ready(key):
        s, ans = key.fileobj, key.data
        try:
            data = s.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data and not ans.feed(data):
            return
        sel.unregister(s)
        state["pending"] -= 1
        if not data:
            state["closed"] += 1
        elif not 200 <= ans.status < 300:
            state["non_2xx"] += 1

    return on_ready


def idle_memory(pid, port, count, max_inflight=32, path="/", timeout=60.0):
    """Bytes of RSS (pid and descendants) per idle keep-alive connection.

    Opens `count` connections; each sends one GET and reads the whole answer,
    then stays open. At most `max_inflight` requests are outstanding at once,
    so a proxy never needs more than that many backend connections. Returns
    idle_conns (open after an answer), idle_bytes, and errors (non-2xx
    answers, connections closed or unanswered)."""
    raise_nofile()
    before = rss_bytes(pid)
    sel = selectors.DefaultSelector()
    socks = []
    state = {"pending": 0, "non_2xx": 0, "closed": 0}
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

    on_ready = _answer_reader(sel, state)

    deadline = time.monotonic() + timeout
    try:
        for _ in range(count):
            while state["pending"] >= max_inflight and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    on_ready(key)
            if time.monotonic() >= deadline:
                break
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(request)
            except OSError:
                s.close()
                break
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, _Answer())
            state["pending"] += 1
            for key, _ in sel.select(timeout=0):
                on_ready(key)
        while state["pending"] > 0 and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                on_ready(key)
        after = rss_bytes(pid)
        idle = len(socks) - state["pending"] - state["closed"]
        return {"idle_conns": idle,
                "idle_bytes": (after - before) / max(1, idle),
                "errors": state["non_2xx"] + state["closed"] + state["pending"] + (count - len(socks))}
    finally:
        sel.close()
        for s in socks:
            s.close()


def _open_wave(port, n, request, sel, socks, state):
    """Opens up to n connections and sends `request` on each; False once a
    connect or send fails (out of ports or descriptors)."""
    for _ in range(n):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(request)
        except OSError:
            s.close()
            return False
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, _Answer())
        state["pending"] += 1
    return True


def _settled_rss(pid, settle_min, settle_max):
    """(RSS, seconds waited): at least settle_min, then until RSS has not
    moved for a second, at most settle_max."""
    start = time.monotonic()
    last, stable_since = rss_bytes(pid), start
    while True:
        time.sleep(0.25)  # a sampling period, not synchronisation: RSS has no event
        now = time.monotonic()
        rss = rss_bytes(pid)
        if rss != last:
            last, stable_since = rss, now
        if now - start >= settle_max or (now - start >= settle_min and now - stable_since >= 1.0):
            return last, now - start


def idle_after_burst(pid, port, count, wave=200, path="/", timeout=120.0,
                     settle_min=2.0, settle_max=15.0):
    """Bytes of RSS (pid and descendants) per idle connection left by a burst.

    Issue 13, item 18: `count` clients arrive `wave` at a time; each wave's
    clients connect together, each sends one GET, and the next wave starts
    once every answer of this one is in; then all of them stay open, idle.
    RSS is read once settled before the first wave and again after the
    burst: at least `settle_min` seconds after the last answer and then
    until it has not moved for a second (at most `settle_max`), so memory a
    proxy gives back when it goes quiet is counted as given back, and memory
    it keeps (caches, freed-but-kept heap) is counted against it. Returns
    idle_conns, idle_bytes (settled), peak_bytes (the largest RSS growth
    seen between waves, per connection), settle_s and errors."""
    raise_nofile()
    # Settled before too: caches the warm-up left and the proxy would give
    # back anyway must not count as given back by the burst.
    before, _ = _settled_rss(pid, settle_min, settle_max)
    peak = before
    sel = selectors.DefaultSelector()
    socks = []
    state = {"pending": 0, "non_2xx": 0, "closed": 0}
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

    on_ready = _answer_reader(sel, state)

    deadline = time.monotonic() + timeout
    try:
        while len(socks) < count and time.monotonic() < deadline:
            if not _open_wave(port, min(wave, count - len(socks)), request, sel, socks, state):
                break
            while state["pending"] > 0 and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1):
                    on_ready(key)
            peak = max(peak, rss_bytes(pid))
        # Settle: memory given back when the proxy goes quiet counts as given.
        after, settle_s = _settled_rss(pid, settle_min, settle_max)
        idle = len(socks) - state["pending"] - state["closed"]
        return {"idle_conns": idle,
                "idle_bytes": (after - before) / max(1, idle),
                "peak_bytes": (peak - before) / max(1, idle),
                "settle_s": settle_s,
                "errors": state["non_2xx"] + state["closed"] + state["pending"] + (count - len(socks))}
    finally:
        sel.close()
        for s in socks:
            s.close()
