"""TLS benchmark (issue 16): sluice, HAProxy and nginx terminating TLS with
the same certificate and forwarding plain HTTP/1.1 to one nginx backend.

Method (../shared/benchmarking.md, docs/benchmarks.md "TLS"): the proxy set-up
of proxy_bench.py (one worker each, the proxy alone on CPU 0, backend and
load on CPU 1, started fresh for every load, CPU from /proc), plus:
- certificates made at bench time with the openssl command line: ECDSA P-256
  and RSA 2048, self-signed for bench.test and 127.0.0.1; HAProxy gets the
  same certificate and key as one bundle;
- the same TLS settings on every proxy (proxy_bench.TLS_*): TLS 1.2 and 1.3,
  OpenSSL's TLS 1.3 suites, ECDHE-*-AES128-GCM-SHA256 for TLS 1.2, groups
  X25519 and P-256; session tickets and a session cache on;
- before every load, a preflight: `openssl s_client -brief` must negotiate
  with the expected certificate, and a GET / over TLS (HTTP/1.1, and the
  HTTP/1.0 request without Host that `s_time -www` sends) must be a 200 with
  the backend's body; a proxy that cannot serve TLS fails its row loudly
  (and the run's exit status) instead of being measured;
- loads: full handshakes `ab` without -k (one full handshake and one GET per
  connection; checked once per run against a local TLS server that ab never
  resumes), for ECDSA and RSA; resumed handshakes `openssl s_time -reuse
  -www` from several clients (each connection resumes the first one's
  session and does one GET; `s_client -sess_out/-sess_in` must say
  `Reused` first, and s_time's own per-connection marks give the share
  resumed); keep-alive `wrk https` on `/` and `/64k`; `/64k` again with
  sluice's `ktls: true`; N idle TLS connections (handshake, one GET, then
  idle) and the RSS growth per connection once settled.
Loopback only; every load bounded in count or time; everything started is
stopped by process group.
"""
import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

from benchlib import (CLK_TCK, _Answer, _settled_rss, cpu_pair, cpu_ticks, raise_nofile, run_ab,
                      run_wrk)
import proxy_bench
from proxy_bench import Backend, fmt, mean, proxy_service, ratio

PROXIES = ("sluice", "haproxy", "nginx")
SERVER_NAME = "bench.test"

# name: (label, kind, certificate, path)
LOADS = {
    "full-ecdsa": ("full handshake ECDSA P-256 (ab)", "ab", "ecdsa", "/"),
    "full-rsa": ("full handshake RSA 2048 (ab)", "ab", "rsa", "/"),
    "resume": ("resumed handshake (s_time -reuse)", "stime", "ecdsa", "/"),
    "ka": ("keep-alive / over TLS (612 B)", "wrk", "ecdsa", "/"),
    "ka64k": ("keep-alive /64k over TLS", "wrk", "ecdsa", "/64k"),
    "ka64k-ktls": ("keep-alive /64k, sluice ktls: true", "wrk", "ecdsa", "/64k"),
    "idle": ("idle TLS client conns", "idle", "ecdsa", "/"),
}
HANDSHAKE_KINDS = ("ab", "stime")  # loads whose unit is a connection (a handshake and one GET)
KTLS_LOADS = ("ka64k-ktls",)  # sluice only: the others have no such switch here
IDLE_INFLIGHT = 32


# ---------------------------------------------------------------- set-up

def openssl(*argv, timeout=30, stdin=subprocess.DEVNULL, cpu=None):
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return subprocess.run(pin + ["openssl", *argv], capture_output=True, text=True,
                          timeout=timeout, stdin=stdin)


def make_certificates(d):
    """An ECDSA P-256 and an RSA 2048 self-signed certificate for bench.test
    and 127.0.0.1: {kind: {cert, key, bundle}}."""
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)  # nginx workers run as nobody
    newkey = {"ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
              "rsa": ["-newkey", "rsa:2048"]}
    certs = {}
    for kind, key_args in newkey.items():
        c = {k: os.path.join(d, f"{kind}.{ext}") for k, ext in
             (("cert", "crt"), ("key", "key"), ("bundle", "pem"))}
        r = openssl("req", "-x509", *key_args, "-nodes", "-keyout", c["key"], "-out", c["cert"],
                    "-days", "7", "-subj", f"/CN={SERVER_NAME}",
                    "-addext", f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1")
        if r.returncode != 0:
            raise RuntimeError(f"openssl req ({kind}) failed:\n{r.stderr}")
        with open(c["bundle"], "w") as out:
            for part in (c["cert"], c["key"]):
                with open(part) as f:
                    out.write(f.read())
        for p in c.values():
            os.chmod(p, 0o644)
        certs[kind] = c
    return certs


def tls_stat():
    """/proc/net/tls_stat as {name: int}, or None without the kernel's tls module."""
    try:
        with open("/proc/net/tls_stat") as f:
            return {k: int(v) for k, v in (line.split() for line in f if line.strip())}
    except OSError:
        return None


def ktls_status():
    """(available, one line saying why). Tries `modprobe tls` where it exists,
    then asks the kernel directly: TCP_ULP "tls" on a connected socket."""
    notes = []
    if shutil.which("modprobe"):
        r = subprocess.run(["modprobe", "tls"], capture_output=True, text=True, timeout=10)
        notes.append("modprobe tls: " + ("ok" if r.returncode == 0 else
                                         (r.stderr.strip().splitlines() or ["failed"])[0]))
    else:
        notes.append("no modprobe")
    tcp_ulp = getattr(socket, "TCP_ULP", 31)
    with socket.socket() as lst:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        with socket.create_connection(lst.getsockname()) as c:
            conn, _ = lst.accept()
            with conn:
                try:
                    c.setsockopt(socket.IPPROTO_TCP, tcp_ulp, b"tls")
                    ulp = None
                except OSError as e:
                    ulp = e
    notes.append("TCP_ULP tls: " + ("accepted" if ulp is None else f"refused ({ulp.strerror})"))
    notes.append("/proc/net/tls_stat: " + ("present" if tls_stat() is not None else "absent"))
    return ulp is None, "; ".join(notes)


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed; what is measured is the proxy, not trust
    return ctx


def check_ab_full_handshakes(cert, cpu):
    """ab must do a full handshake per request: run it against a local TLS
    server that counts resumed handshakes, and check the counter itself with
    `openssl s_time -reuse`, which does resume. Returns a note; raises if ab
    resumes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert["cert"], cert["key"])
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    lst.settimeout(0.5)
    port = lst.getsockname()[1]
    seen = {"full": 0, "reused": 0}
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                raw, _ = lst.accept()
            except (socket.timeout, OSError):
                continue
            raw.settimeout(5)
            try:
                with ctx.wrap_socket(raw, server_side=True) as s:
                    seen["reused" if s.session_reused else "full"] += 1
                    buf = b""
                    while b"\r\n\r\n" not in buf:
                        data = s.recv(4096)
                        if not data:
                            break
                        buf += data
                    s.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                    # close_notify: without it OpenSSL 3 clients drop the
                    # session (unexpected EOF) and s_time could not resume.
                    s.unwrap()
            except (OSError, ssl.SSLError):
                raw.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        subprocess.run(["taskset", "-c", str(cpu), "ab", "-q", "-n", "20", "-c", "1",
                        f"https://127.0.0.1:{port}/"], capture_output=True, timeout=60)
        ab = dict(seen)
        seen.update(full=0, reused=0)
        openssl("s_time", "-connect", f"127.0.0.1:{port}", "-reuse", "-time", "1", "-www", "/",
                timeout=30, cpu=cpu)
        stime = dict(seen)
    finally:
        stop.set()
        t.join(5)
        lst.close()
    if ab["full"] + ab["reused"] < 20:
        raise RuntimeError(f"ab over TLS reached a local server only {ab['full'] + ab['reused']} "
                           "times out of 20: cannot tell whether it resumes")
    if ab["reused"]:
        raise RuntimeError(f"ab resumed {ab['reused']} of 20 TLS sessions: "
                           "its rows would not be full handshakes")
    if stime["reused"] == 0:
        return "ab: 20 of 20 full handshakes (but the counter saw no resumption from s_time either)"
    return (f"ab: 20 of 20 full handshakes on a counting server "
            f"(which saw s_time -reuse resume {stime['reused']} of {sum(stime.values())})")


# ---------------------------------------------------------------- preflight

def s_client_brief(port):
    """What `openssl s_client -brief` negotiates: {protocol, cipher, signature,
    group, subject}."""
    # A whole request (and -ign_eof: wait for the answer) rather than closing at
    # once, which a proxy may count as a handshake its client abandoned.
    req = f"GET / HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        SERVER_NAME, "-brief", "-ign_eof"], input=req, capture_output=True,
                       text=True, timeout=15)
    out = r.stdout + r.stderr
    fields = {"protocol": r"Protocol version:\s*(\S+)", "cipher": r"Ciphersuite:\s*(\S+)",
              "signature": r"Signature type:\s*(\S+)", "group": r"Server Temp Key:\s*([^,\s]+)",
              "subject": r"Peer certificate:\s*(.+)"}
    got = {k: (m.group(1).strip() if (m := re.search(rx, out)) else None) for k, rx in fields.items()}
    if "CONNECTION ESTABLISHED" not in out or not got["protocol"]:
        raise RuntimeError(f"no TLS handshake on port {port}: {out.strip()[-400:]}")
    return got


def https_get(port, path="/", timeout=10.0):
    """One GET over TLS: (status, body bytes received, problem or None). A
    body cut short or stalled is a problem, not an exception, so the
    preflight can say how far it got."""
    ans = _Answer()
    request = f"GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with client_context().wrap_socket(raw, server_hostname=SERVER_NAME) as s:
                s.sendall(request)
                while True:
                    data = s.recv(65536)
                    if not data:
                        return ans.status, len(ans.buf), "closed before the end of the answer"
                    if ans.feed(data):
                        return ans.status, len(ans.buf), None
    except (OSError, ssl.SSLError) as e:
        problem = "timed out" if isinstance(e, socket.timeout) else str(e)
        return ans.status, len(ans.buf), f"{problem} after {len(ans.buf)} body bytes"


# `s_time -www PAGE` sends "GET PAGE HTTP/1.0\r\n\r\n", without Host, which
# proxies pass on differently (nginx forwards an HTTP/1.1 request without Host
# and its backend answers 400). Given this page it sends what ab sends: an
# HTTP/1.0 request with Host (and a harmless header taking the trailing
# " HTTP/1.0").
STIME_PAGE = f"/ HTTP/1.0\r\nHost: {SERVER_NAME}\r\nX-Bench: s_time"
STIME_REQUEST = f"GET {STIME_PAGE} HTTP/1.0\r\n\r\n".encode()


def https_get_stime(port):
    """The request `openssl s_time -www STIME_PAGE` sends, read until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_context().wrap_socket(raw) as s:
            s.sendall(STIME_REQUEST)
            buf = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                buf += data
    line = buf.split(b"\r\n", 1)[0].decode("latin-1")
    return line, buf


BODY_SIZES = {"/": proxy_bench.SMALL_SIZE, "/64k": 65536}


def preflight(name, port, kind, path):
    """Raises unless the proxy on `port` terminates TLS with the `kind`
    certificate and forwards the load's `path` whole. Returns what was
    negotiated."""
    got = s_client_brief(port)
    want_sig = "ECDSA" if kind == "ecdsa" else "RSA"
    problems = []
    if SERVER_NAME not in (got["subject"] or ""):
        problems.append(f"certificate {got['subject']!r}, not the bench's")
    if not (got["signature"] or "").startswith(want_sig):
        problems.append(f"signature {got['signature']}, expected {want_sig}")
    if got["protocol"] != "TLSv1.3":
        problems.append(f"protocol {got['protocol']}, expected TLSv1.3 (every proxy is set to offer it)")
    for p in sorted({"/", path}):
        status, size, problem = https_get(port, p)
        if problem or status != 200 or size != BODY_SIZES[p]:
            problems.append(f"GET {p} over TLS: status {status}, {size} of {BODY_SIZES[p]} body "
                            f"bytes{', ' + problem if problem else ''}")
    line, raw = https_get_stime(port)
    if " 200 " not in line + " ":
        problems.append(f"HTTP/1.0 GET / (as s_time sends it): {line!r}")
    if problems:
        raise RuntimeError(f"{name} cannot serve TLS as the bench needs: " + "; ".join(problems))
    got["stime_bytes"] = len(raw)
    return got


def resumption_check(port):
    """True if a second `s_client` given the first one's session says Reused."""
    req = f"GET / HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n"
    sess = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sluice-tls-sess-{os.getpid()}-{port}.pem")
    try:
        outs = []
        for flag in ("-sess_out", "-sess_in"):
            r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                                SERVER_NAME, flag, sess, "-ign_eof"], input=req,
                               capture_output=True, text=True, timeout=15)
            outs.append(r.stdout + r.stderr)
            if flag == "-sess_out" and not os.path.exists(sess):
                return False
        return bool(re.search(r"^Reused,", outs[1], re.M))
    finally:
        if os.path.exists(sess):
            os.unlink(sess)


# ---------------------------------------------------------------- loads

def run_stime(port, seconds, clients, cpu):
    """`clients` concurrent `openssl s_time -reuse -www STIME_PAGE`, each for `seconds`:
    every connection after each client's first resumes its session and does
    one GET. Returns requests (connections), rps, resumed (connections marked
    `r`), bytes_per_conn, errors."""
    argv = ["taskset", "-c", str(cpu), "openssl", "s_time", "-connect", f"127.0.0.1:{port}",
            "-reuse", "-time", str(seconds), "-www", STIME_PAGE]
    t0 = time.monotonic()
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(clients)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=seconds + 60)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    wall = time.monotonic() - t0
    total = resumed = errors = 0
    bytes_per = []
    for out in outs:
        m = re.search(r"(\d+) connections in [\d.]+ real seconds, (\d+) bytes read per connection", out)
        if not m:
            raise RuntimeError(f"unexpected s_time output:\n{out[-1500:]}")
        n = int(m.group(1))
        total += n
        bytes_per.append(int(m.group(2)))
        # One mark per timed connection: `r` resumed; `*` (or `t`, `3` for old
        # protocol versions) a full handshake.
        marks = "".join(line for line in out.splitlines() if re.fullmatch(r"[rt3*]+", line.strip()))
        resumed += marks.count("r")
        errors += sum(1 for line in out.splitlines() if re.search(r"error", line, re.I))
    return {"requests": total, "rps": total / wall, "resumed": resumed,
            "bytes_per_conn": min(bytes_per) if bytes_per else 0, "errors": errors,
            "p50_ms": None, "p99_ms": None}


async def _open_idle_tls(port, count, inflight, path, timeout):
    ctx = client_context()
    sem = asyncio.Semaphore(inflight)
    request = f"GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\n\r\n".encode()
    opened = []  # (reader, writer) of every connection answered
    state = {"non_2xx": 0, "failed": 0}

    async def one():
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=SERVER_NAME),
                    timeout)
                writer.write(request)
                ans = _Answer()
                while True:
                    data = await asyncio.wait_for(reader.read(65536), timeout)
                    if not data:
                        state["failed"] += 1
                        writer.close()
                        return
                    if ans.feed(data):
                        break
                if not 200 <= ans.status < 300:
                    state["non_2xx"] += 1
                opened.append((reader, writer))
            except (OSError, ssl.SSLError, asyncio.TimeoutError):
                state["failed"] += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return opened, state


async def _still_idle(opened, wait=0.5):
    """How many connections are still open and silent: one the proxy closed,
    or sent anything on unasked (a 408), is not idle."""
    async def silent(reader):
        try:
            await asyncio.wait_for(reader.read(1), wait)
            return False  # data or EOF
        except asyncio.TimeoutError:
            return True
        except (OSError, ssl.SSLError):
            return False

    return sum(await asyncio.gather(*(silent(r) for r, _ in opened)))


def idle_tls(pid, port, count, inflight=IDLE_INFLIGHT, path="/", timeout=20.0, hold=12.0):
    """Bytes of RSS (pid and descendants) per idle TLS connection: `count`
    connections, at most `inflight` handshaking at once, each completing the
    handshake and one GET, then left open; RSS read settled before and after
    (so buffers a proxy gives back once quiet count as given back), the
    second time at least `hold` seconds after the last answer: longer than
    the 10 s header timeouts, so a proxy that drops idle TLS connections
    early is caught. A connection closed or written to by then is an error."""
    raise_nofile()
    before, _ = _settled_rss(pid, 1.0, 10.0)
    loop = asyncio.new_event_loop()
    opened = []
    try:
        opened, state = loop.run_until_complete(_open_idle_tls(port, count, inflight, path, timeout))
        # The proxy needs nothing from this loop while it settles: a blocking wait is fine.
        after, settle_s = _settled_rss(pid, hold, hold + 15.0)
        alive = loop.run_until_complete(_still_idle(opened))
        return {"idle_conns": alive,
                "idle_bytes": (after - before) / alive if alive else None,
                "settle_s": settle_s, "dropped_while_idle": len(opened) - alive,
                "errors": state["non_2xx"] + state["failed"] + (len(opened) - alive)}
    finally:
        for _, w in opened:
            w.transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


def measure(load, name, backend, args, workdir, cpus, certs):
    proxy_cpu, load_cpu = cpus
    _, kind, cert_kind, path = LOADS[load]
    tls = dict(certs[cert_kind], ktls=load in KTLS_LOADS)
    proxy = proxy_service(name, workdir, backend.port, proxy_cpu, args.sluice, args.nofile,
                          0, tls).start()
    try:
        res = {"tls": preflight(name, proxy.port, cert_kind, path)}
        if kind == "stime":
            res["resumption_check"] = resumption_check(proxy.port)
        run_wrk(proxy.port, 1, args.connections, path, load_cpu, scheme="https")  # warm-up: pools
        a0, r0 = backend.status()
        p0 = cpu_ticks(proxy.pid)
        k0 = tls_stat()
        if kind == "wrk":
            res.update(run_wrk(proxy.port, args.duration, args.connections, path, load_cpu,
                               scheme="https"))
            if res["requests"] == 0:  # wrk counts no error for answers that never end
                res["errors"] += 1
                res["note"] = "no request completed"
        elif kind == "ab":
            ab = run_ab(proxy.port, args.tls_handshakes, args.ab_concurrency, path, load_cpu,
                        scheme="https")
            ab["ab_tls"] = ab.pop("tls", None)
            res.update(ab)
        elif kind == "stime":
            res.update(run_stime(proxy.port, args.duration, args.stime_clients, load_cpu))
            if res["bytes_per_conn"] < proxy_bench.SMALL_SIZE:
                res["errors"] += 1
                res["note"] = f"s_time read {res['bytes_per_conn']} B per connection"
        else:
            res.update(idle_tls(proxy.pid, proxy.port, args.tls_idle_count, IDLE_INFLIGHT, path,
                                hold=args.tls_idle_hold))
            res["requests"] = res["idle_conns"] + res["dropped_while_idle"]
            if res["dropped_while_idle"]:
                res["note"] = (f"{res['dropped_while_idle']} connections closed (or written to) "
                               f"by {name} while idle")
        p1 = cpu_ticks(proxy.pid)
        k1 = tls_stat()
        a1, r1 = backend.status()
        res["backend_conns"] = a1 - a0 - 1
        res["backend_requests"] = r1 - r0 - 1
        res["cpu_us_per_req"] = (p1 - p0) / CLK_TCK * 1e6 / max(1, res["requests"])
        if k0 is not None and k1 is not None:
            # Records the kernel encrypted for sockets opened during the load (tx and rx).
            res["ktls_conns"] = (k1.get("TlsTxSw", 0) - k0.get("TlsTxSw", 0)
                                 + k1.get("TlsTxDevice", 0) - k0.get("TlsTxDevice", 0))
        if proxy.proc.poll() is not None:
            res["errors"] += 1
            res["note"] = f"{name} exited during the load"
        return res
    except Exception:
        sys.stderr.write(f"--- {name} log tail ---\n{proxy.log_tail()}\n")
        raise
    finally:
        proxy.stop()


# ---------------------------------------------------------------- run and report

def check_tools():
    need = {"wrk": "wrk", "ab": "apache2-utils", "taskset": "util-linux", "nginx": "nginx-light",
            "haproxy": "haproxy", "openssl": "openssl"}
    return [pkg for tool, pkg in need.items() if shutil.which(tool) is None]


def run(args, tmp):
    proxies = [p for p in args.tls_proxies.split(",") if p]
    loads = [s for s in args.tls_loads.split(",") if s]
    for p in proxies:
        if p not in PROXIES:
            raise SystemExit(f"unknown proxy '{p}' (expected some of {','.join(PROXIES)})")
    for s in loads:
        if s not in LOADS:
            raise SystemExit(f"unknown TLS load '{s}' (expected some of {','.join(LOADS)})")
    if "sluice" in proxies and not os.access(args.sluice, os.X_OK):
        raise SystemExit(f"{args.sluice} not found: build it with `make build`")
    args.nofile = raise_nofile()
    args.tls_idle_count = min(args.tls_idle_connections, args.nofile - 200)
    cpus = cpu_pair()
    old_affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[1]})  # this script with the load, away from the proxy
    certs = make_certificates(os.path.join(tmp, "certs"))
    ktls_ok, ktls_note = ktls_status()
    ab_note = check_ab_full_handshakes(certs["ecdsa"], cpus[1]) if any(
        LOADS[s][1] == "ab" for s in loads) else "ab: not run"
    print(f"kTLS: {'available' if ktls_ok else 'NOT available in this kernel'} ({ktls_note})",
          file=sys.stderr)
    print(ab_note, file=sys.stderr)
    results = []
    backend = Backend(os.path.join(tmp, "backend"), cpus[1], args.nofile)
    try:
        backend.start()
        for rnd in range(1, args.rounds + 1):
            for load in loads:
                for name in proxies:
                    if load in KTLS_LOADS and name != "sluice":
                        continue
                    d = os.path.join(tmp, f"{load}-{name}-{rnd}")
                    os.makedirs(d)
                    row = {"scenario": f"tls-{load}", "load": load, "proxy": name, "round": rnd}
                    try:
                        row.update(measure(load, name, backend, args, d, cpus, certs))
                    except Exception as e:  # keep the other proxies going; the exit status fails
                        print(f"{name} {load} round {rnd} failed:\n{traceback.format_exc()}",
                              file=sys.stderr)
                        row.update(failed_run=True, errors=None,
                                   note=(str(e).strip().splitlines() or [type(e).__name__])[0][:160])
                    results.append(row)
                    print(progress(row), file=sys.stderr)
    finally:
        backend.stop()
        os.sched_setaffinity(0, old_affinity)
    print_table(results, proxies, loads, args, ktls_ok, ktls_note, ab_note)
    return results


def tls_summary(r):
    t = r.get("tls") or {}
    return f"{t.get('protocol')} {t.get('cipher')} {t.get('group')} {t.get('signature')}"


def resume_cell(r):
    if LOADS[r["load"]][1] != "stime":
        return "—"
    share = 100 * r["resumed"] / max(1, r["requests"])
    cell = f"{share:.1f} %"
    if not r.get("resumption_check") or share < 99:
        cell = f"**WARNING: {'s_client not Reused; ' if not r.get('resumption_check') else ''}{cell}**"
    return cell


def progress(r):
    if r.get("failed_run"):
        return f"{r['proxy']} {r['load']} round {r['round']}: FAILED ({r['note']})"
    kind = LOADS[r["load"]][1]
    if kind == "idle":
        return (f"{r['proxy']} {r['load']} round {r['round']}: {r['idle_conns']} TLS conns, "
                f"{fmt(r['idle_bytes'], '.0f')} B/conn (settled {r['settle_s']:.1f} s), "
                f"{r['errors']} errors")
    extra = f", resumed {resume_cell(r)}" if kind == "stime" else ""
    return (f"{r['proxy']} {r['load']} round {r['round']}: {r['rps']:.0f}/s, "
            f"{r['cpu_us_per_req']:.1f} CPU-us per {'handshake' if kind in HANDSHAKE_KINDS else 'req'}"
            f"{extra}, {r['errors']} errors [{tls_summary(r)}]")


def print_table(results, proxies, loads, args, ktls_ok, ktls_note, ab_note):
    proxy_cpu, load_cpu = cpu_pair()
    print(f"\n## TLS: termination in front of one nginx backend (plain HTTP/1.1), one worker per "
          f"proxy, proxy on CPU {proxy_cpu}, backend + load on CPU {load_cpu}\n")
    print(f"Full handshakes: ab -n {args.tls_handshakes} -c {args.ab_concurrency} (no -k; {ab_note}). "
          f"Resumed: {args.stime_clients} x openssl s_time -reuse -www (GET / HTTP/1.0 with Host) for {args.duration} s. "
          f"Keep-alive: wrk -t1 -c{args.connections} -d{args.duration}s https. "
          f"Idle: {args.tls_idle_count} TLS connections, handshake + one GET each, then idle, RSS "
          f"growth per connection once settled, at least {args.tls_idle_hold:g} s after the last "
          "answer, every connection still open. A handshake row's unit is one connection: a "
          "handshake, one GET through the proxy, the close. CPU-µs: the proxy's processes only. "
          f"Certificates: self-signed ECDSA P-256 / RSA 2048, made for this run.\n")
    print(f"kTLS: {'available' if ktls_ok else '**not available in this kernel**'} ({ktls_note})"
          + ("" if ktls_ok else "; the `ktls: true` row is sluice falling back to userspace TLS, "
             "so it shows only that the option costs nothing when the kernel cannot do it") + ".\n")
    print("| load | proxy | round | per s | p50 ms | p99 ms | CPU-µs per handshake/req "
          "| idle B/conn | resumed | negotiated | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        label = LOADS[r["load"]][0]
        if r.get("failed_run"):
            print(f"| {label} | {r['proxy']} | {r['round']} | **FAILED: {r['note']}** | | | | | | | |")
            continue
        idle = LOADS[r["load"]][1] == "idle"
        err = str(r["errors"]) if not r["errors"] else f"**{r['errors']}**"
        if r.get("non_2xx"):
            err += f" ({r['non_2xx']} non-2xx)"
        if r.get("note"):
            err += f" {r['note']}"
        if r["load"] in KTLS_LOADS:
            used = r.get("ktls_conns")
            err += (" (kTLS unavailable: userspace)" if not ktls_ok else
                    f" (kernel TLS tx sockets: {used})" if used else " (**kTLS not used**)")
        print(f"| {label} | {r['proxy']} | {r['round']} "
              f"| {'—' if idle else fmt(r['rps'], '.0f')} "
              f"| {'—' if idle else fmt(r.get('p50_ms'), '.2f')} "
              f"| {'—' if idle else fmt(r.get('p99_ms'), '.2f')} "
              f"| {fmt(r['cpu_us_per_req'], '.1f')} "
              f"| {fmt(r['idle_bytes'], '.0f') + ' (' + str(r['idle_conns']) + ')' if idle else '—'} "
              f"| {resume_cell(r)} | {tls_summary(r)} | {err} |")
    print_ratios(results, proxies, loads)


def rows(results, proxy, load):
    return [r for r in results if r["proxy"] == proxy and r["load"] == load]


def print_ratios(results, proxies, loads):
    if "sluice" not in proxies:
        return
    others = [p for p in ("haproxy", "nginx") if p in proxies]
    print("\n| ratio (mean of rounds) | load | CPU-µs per handshake/req (lower is better) "
          "| per s (higher) | p99 (lower) | idle B/conn (lower) | note |")
    print("|---|---|---|---|---|---|---|")
    for other in others:
        for load in loads:
            s = rows(results, "sluice", load)
            # Peers have no kTLS switch here: sluice with kTLS against their /64k.
            o = rows(results, other, "ka64k" if load in KTLS_LOADS else load)
            if not s or not o:
                continue
            kind = LOADS[load][1]
            cells = [ratio(mean(s, "cpu_us_per_req"), mean(o, "cpu_us_per_req"))]
            if kind == "idle":
                cells += [None, None, ratio(mean(s, "idle_bytes"), mean(o, "idle_bytes"))]
            else:
                cells += [ratio(mean(s, "rps"), mean(o, "rps")),
                          ratio(mean(s, "p99_ms"), mean(o, "p99_ms")), None]
            bad = [n for n, rs in (("sluice", s), (other, o))
                   if any(r.get("failed_run") or r.get("errors") for r in rs)]
            note = f"errors from {' and '.join(bad)}: not comparable" if bad else ""
            print(f"| sluice / {other} | {LOADS[load][0]} | "
                  + " | ".join(fmt(c, ".2f", "n/a") for c in cells) + f" | {note} |")
    on, off = rows(results, "sluice", "ka64k-ktls"), rows(results, "sluice", "ka64k")
    if on and off:
        print(f"| sluice ktls on / off | /64k over TLS | "
              f"{fmt(ratio(mean(on, 'cpu_us_per_req'), mean(off, 'cpu_us_per_req')), '.2f', 'n/a')} "
              f"| {fmt(ratio(mean(on, 'rps'), mean(off, 'rps')), '.2f', 'n/a')} "
              f"| {fmt(ratio(mean(on, 'p99_ms'), mean(off, 'p99_ms')), '.2f', 'n/a')} | n/a | |")
    print_targets(results, proxies, loads)


def print_targets(results, proxies, loads):
    """Issue 16's targets: CPU per handshake and per request at most HAProxy's,
    idle bytes below nginx's (means of rounds)."""
    checks = []
    if "haproxy" in proxies:
        for load in loads:
            if LOADS[load][1] in ("ab", "stime", "wrk") and load not in KTLS_LOADS:
                checks.append((load, "haproxy", "cpu_us_per_req", "<="))
    if "nginx" in proxies and "idle" in loads:
        checks.append(("idle", "nginx", "idle_bytes", "<"))
    if "sluice" not in proxies or not checks:
        return
    print("\nIssue 16 targets (means of rounds; a noisy machine: read with the rounds above):\n")
    for load, other, key, op in checks:
        s, o = mean(rows(results, "sluice", load), key), mean(rows(results, other, load), key)
        if s is None or o is None:
            verdict = "**not measured** (every round failed)"
        else:
            met = s <= o if op == "<=" else s < o
            verdict = f"{'met' if met else '**NOT met**'} ({s:.1f} vs {o:.1f})"
        what = "idle B/conn" if key == "idle_bytes" else "CPU-µs"
        print(f"- {LOADS[load][0]}: sluice {what} {op} {other}'s: {verdict}")


# ---------------------------------------------------------------- instructions (callgrind)
#
# CPU time per handshake is noise on a shared machine, and perf's hardware
# counters are absent in a virtual machine without a PMU. Instructions
# counted by callgrind are neither: the same binary, configuration and
# fixed-count load give the same count to a fraction of a percent. Each
# proxy runs under `valgrind --tool=callgrind`; its counters are zeroed
# (`callgrind_control -z`) after the warm-up and dumped (`-d`) after a load
# of a fixed number of handshakes or requests, so set-up and warm-up are not
# counted. The count is the proxy's whole process, user space (OpenSSL
# included), and it is valgrind's simulated CPU: compare proxies with each
# other, never with native instruction counts.
#
#   python3 bench/load/tls_bench.py --instructions [--sluice build/sluice]

def _callgrind_totals(pid, workdir):
    """Dumps `pid`'s counters and returns the dump's instruction total."""
    before = set(os.listdir(workdir))
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=120)
    for name in sorted(set(os.listdir(workdir)) - before):
        if name.startswith("callgrind.") and re.search(r"\.\d+$", name):
            with open(os.path.join(workdir, name)) as f:
                for line in f:
                    if line.startswith("totals:") or line.startswith("summary:"):
                        return int(line.split()[1])
    raise RuntimeError(f"no callgrind dump for {pid} in {workdir}")


def _zero(pid):
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, timeout=120)


def _resumed_connections(port, count, after_first):
    """One full handshake, `after_first()`, then `count` connections resuming
    its session, each with the request s_time sends, read until the proxy
    closes. Returns how many resumed."""
    ctx = client_context()
    session, reused = None, 0
    for _ in range(count + 1):
        with socket.create_connection(("127.0.0.1", port), timeout=60) as raw:
            with ctx.wrap_socket(raw, server_hostname=SERVER_NAME, session=session) as s:
                s.sendall(STIME_REQUEST)
                while s.recv(65536):
                    pass
                if session is None:
                    session = s.session  # the first, full handshake: not counted
                    after_first()
                else:
                    reused += s.session_reused
    return reused


def _keep_alive_requests(port, connections, per_connection, after_open):
    """`connections` TLS connections, each answered once, then `after_open()`,
    then `per_connection` more GET / on each (one thread per connection)."""
    ctx = client_context()
    request = f"GET / HTTP/1.1\r\nHost: {SERVER_NAME}\r\n\r\n".encode()
    socks = []
    for _ in range(connections):
        raw = socket.create_connection(("127.0.0.1", port), timeout=60)
        socks.append(ctx.wrap_socket(raw, server_hostname=SERVER_NAME))
    failures = []

    def one_request(s):
        ans = _Answer()
        s.sendall(request)
        while True:
            data = s.recv(65536)
            if not data:
                return False
            if ans.feed(data):
                return ans.status == 200

    for s in socks:
        if not one_request(s):
            raise RuntimeError("keep-alive: the first answer failed")
    after_open()
    barrier = threading.Barrier(connections)

    def loop(s):
        barrier.wait()
        for _ in range(per_connection):
            if not one_request(s):
                failures.append(1)
                return

    threads = [threading.Thread(target=loop, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in socks:
        s.close()
    if failures:
        raise RuntimeError(f"keep-alive: {len(failures)} connections failed")
    return connections * per_connection


def count_instructions(name, backend, args, workdir, certs, cert_kind):
    """{load: instructions per handshake or request} for one proxy and one
    certificate kind (ECDSA: full, resumed, keep-alive; RSA: full)."""
    tls = dict(certs[cert_kind], ktls=False)
    svc = proxy_service(name, workdir, backend.port, args.proxy_cpu, args.sluice, 4096, 0, tls)
    svc.argv = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--dump-line=no",
                f"--callgrind-out-file={workdir}/callgrind.out.%p"] + svc.argv
    svc.start(timeout=300)
    out = {}
    try:
        pid = svc.pid  # taskset execs valgrind: the same process
        for _ in range(3):  # warm-up: pools, lazily built tables
            status, size, problem = https_get(svc.port)
            if problem or status != 200:
                raise RuntimeError(f"{name}: GET / over TLS: {status} {problem}")
        _zero(pid)
        ab = run_ab(svc.port, args.handshakes, 4, "/", args.load_cpu, timeout=3600, scheme="https")
        if ab["errors"]:
            raise RuntimeError(f"{name}: ab over TLS: {ab['errors']} errors")
        out[f"full-{cert_kind}"] = _callgrind_totals(pid, workdir) / ab["requests"]
        if cert_kind != "ecdsa":
            return out
        reused = _resumed_connections(svc.port, args.handshakes, lambda: _zero(pid))
        out["resume"] = _callgrind_totals(pid, workdir) / args.handshakes
        if reused != args.handshakes:
            raise RuntimeError(f"{name}: {reused} of {args.handshakes} connections resumed")
        n = _keep_alive_requests(svc.port, 8, args.requests // 8, lambda: _zero(pid))
        out["ka"] = _callgrind_totals(pid, workdir) / n
        return out
    finally:
        svc.stop()


def instructions_main():
    import argparse
    import tempfile
    ap = argparse.ArgumentParser(description="instructions per TLS handshake and per keep-alive "
                                 "request over TLS, counted by callgrind")
    ap.add_argument("--sluice", default="build/sluice")
    ap.add_argument("--proxies", default="sluice,haproxy", help="sluice and/or haproxy")
    ap.add_argument("--handshakes", type=int, default=200, help="full and resumed handshakes")
    ap.add_argument("--requests", type=int, default=2000, help="keep-alive requests (8 connections)")
    ap.add_argument("--instructions", action="store_true", help="this mode (the only one here)")
    args = ap.parse_args()
    args.sluice = os.path.abspath(args.sluice)
    for tool in ("valgrind", "callgrind_control", "ab", "haproxy", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (scripts/install-deps.sh bench; valgrind: apt)")
    args.proxy_cpu, args.load_cpu = cpu_pair()
    results = {}
    with tempfile.TemporaryDirectory(prefix="sluice-tls-instr-") as tmp:
        certs = make_certificates(os.path.join(tmp, "certs"))
        backend = Backend(os.path.join(tmp, "backend"), args.load_cpu, 4096)
        backend.start()
        try:
            for name in args.proxies.split(","):
                for kind in ("ecdsa", "rsa"):
                    d = os.path.join(tmp, f"{name}-{kind}")
                    os.makedirs(d)
                    r = count_instructions(name, backend, args, d, certs, kind)
                    results.setdefault(name, {}).update(r)
                    print(f"{name} {kind}: " + ", ".join(f"{k} {v / 1e3:.1f} k" for k, v in r.items()),
                          file=sys.stderr)
        finally:
            backend.stop()
    loads = ("full-ecdsa", "full-rsa", "resume", "ka")
    names = list(results)
    print(f"\n| k instructions (callgrind) | " + " | ".join(names)
          + (" | sluice / haproxy |" if "sluice" in results and "haproxy" in results else " |"))
    print("|---" * (len(names) + 1 + ("sluice" in results and "haproxy" in results)) + "|")
    for load in loads:
        cells = [f"{results[n][load] / 1e3:.1f}" if load in results[n] else "—" for n in names]
        if "sluice" in results and "haproxy" in results:
            cells.append(f"{results['sluice'][load] / results['haproxy'][load]:.3f}")
        print(f"| {load} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    instructions_main()
