"""HTTP/2 benchmark (issue 17): sluice, HAProxy and nginx speaking h2 to the
clients (h2load) in front of the proxy scenario's nginx backend.

Method (../shared/benchmarking.md, docs/benchmarks.md "HTTP/2"): the proxy
set-up of proxy_bench.py (one worker each, the proxy alone on CPU 0, backend
and load on CPU 1, started fresh for every load, CPU from /proc) and the TLS
settings and certificate of tls_bench.py (ECDSA P-256, TLS 1.3), plus:
- loads: `h2` (h2 over TLS, ALPN h2, HTTP/1.1 to the backend), `h2c` (h2c
  with prior knowledge on a plain listener, HTTP/1.1 to the backend), both
  `h2load -n N -c 50 -m 10`; `idle` (N TLS connections negotiating h2, one
  GET each, then held idle: RSS growth per connection once settled);
  `up-h2c` (h2c clients as in `h2c`, and the proxy speaking h2c to the same
  backend's `listen ... http2` port: HAProxy `server ... proto h2`; sluice
  only once `sluice check` accepts `protocol: h2c` on a backend; nginx 1.22
  has no HTTP/2 to backends);
- a preflight before every load: a GET of `/` over h2 must come back 200 with
  the backend's 612 bytes, a GET of `/proto` must show the protocol the
  backend was spoken to in (HTTP/1.1, or HTTP/2.0 for `up-h2c`), and
  `h2load -n 4` must negotiate h2 (or h2c) and get four 2xx; a proxy that
  fails it gets a FAILED row (and the run's exit status 1), not a crash;
- latency: h2load 1.52 prints min/max/mean/sd of "time for request", not
  percentiles, so p50/p99 come from its `--log-file` (one line per request:
  start, status, microseconds to the end of the response) and the mean from
  its summary line.
Loopback only; every load bounded in count (-n) and time (h2load -N 10s of
inactivity and a process timeout; the idle load has deadlines);
everything started is stopped by process group.
"""
import asyncio
import math
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import traceback

from benchlib import CLK_TCK, Service, _settled_rss, cpu_pair, cpu_ticks, free_port, raise_nofile
import proxy_bench
from proxy_bench import (TLS_CIPHERS, TLS_CIPHERSUITES, TLS_CURVES, Backend, fmt, mean, ratio)
from tls_bench import SERVER_NAME, make_certificates

PROXIES = ("sluice", "haproxy", "nginx")
PEERS = ("haproxy", "nginx")

# name: (label, kind, client side over TLS, protocol to the backend)
LOADS = {
    "h2": ("h2 over TLS, GET / (612 B)", "h2load", True, "h1"),
    "h2c": ("h2c (prior knowledge), GET /", "h2load", False, "h1"),
    "idle": ("idle h2 conns over TLS", "idle", True, "h1"),
    "up-h2c": ("h2c client, h2c to an h2 backend", "h2load", False, "h2c"),
}
IDLE_INFLIGHT = 32  # TLS handshakes and first requests outstanding at once
SMALL_SIZE = proxy_bench.SMALL_SIZE
BACKEND_PROTO = {"h1": "HTTP/1.1", "h2c": "HTTP/2.0"}
NO_H2_UPSTREAM = {"sluice": "sluice: no h2 upstream yet",
                  "nginx": "nginx 1.22: no HTTP/2 to backends (grpc_pass only)"}


class Unsupported(Exception):
    """The proxy cannot be set up for this load: a row that says so, not a failure."""


# ---------------------------------------------------------------- configurations

def proxy_service(name, workdir, backend, cpu, sluice_bin, nofile, tls=None, upstream="h1",
                  pool=256):
    """One proxy serving h2 to clients (over TLS with ALPN h2,http/1.1 when
    `tls` is given, else h2c with prior knowledge) and forwarding to the
    backend in HTTP/1.1 (upstream "h1", keep-alive) or h2c (upstream "h2c",
    to the backend's h2 port). The forwarding work is the proxy scenario's:
    Host passed on, X-Forwarded-For, -Proto and -Host added.

    `pool`: idle backend connections kept (sluice max_idle_per_server, nginx
    `keepalive`; HAProxy keeps them without a limit): at least the requests
    the load has in flight, or the HTTP/1.1 rows would measure connection
    churn to the backend rather than HTTP/2 to the client."""
    d = workdir
    port = free_port()
    maxconn = (nofile - 20) // 2
    scheme = "https" if tls else "http"
    backend_port = backend.h2_port if upstream == "h2c" else backend.port
    if upstream == "h2c" and name == "nginx":
        raise Unsupported(NO_H2_UPSTREAM["nginx"])
    if name == "sluice":
        sluice_tls = ""
        if tls:
            sluice_tls = f"""
    tls:
      certificates:
        - {{cert: {tls["cert"]}, key: {tls["key"]}}}
      ciphers: "{TLS_CIPHERS}"
      ciphersuites: "{TLS_CIPHERSUITES}"
      curves: "{TLS_CURVES}"
      alpn: [h2, http/1.1]"""
        protocol = "\n    protocol: h2c" if upstream == "h2c" else ""
        path = os.path.join(d, "sluice.yaml")
        with open(path, "w") as f:
            f.write(f"""workers: 1
log: {{level: warn}}
listeners:
  - name: web
    listen: 127.0.0.1:{port}
    timeouts: {{idle: 300s}}
    http2: {{enabled: true}}{sluice_tls}
routes:
  - name: all
    backend: app
backends:
  app:{protocol}
    servers:
      - address: 127.0.0.1:{backend_port}
    pool:
      max_idle_per_server: {pool}
      idle_timeout: 300s
""")
        if upstream != "h1":
            check = subprocess.run([sluice_bin, "check", "-c", path], capture_output=True, text=True,
                                   timeout=30)
            if check.returncode != 0:
                first = ((check.stdout + check.stderr).strip().splitlines() or ["rejected"])[0]
                first = re.sub(r"^\S*sluice\.yaml:", "line ", first)  # no temp paths
                first = re.sub(r" \(expected one of:.*", "", first)
                raise Unsupported(f"{NO_H2_UPSTREAM['sluice']} (sluice check: {first[:140]})")
        argv = [sluice_bin, "run", "-c", path]
    elif name == "haproxy":
        bind = (f" ssl crt {tls['bundle']} alpn h2,http/1.1 ssl-min-ver TLSv1.2 ciphers {TLS_CIPHERS} "
                f"ciphersuites {TLS_CIPHERSUITES} curves {TLS_CURVES}" if tls else " proto h2")
        server_proto = " proto h2" if upstream == "h2c" else ""
        path = os.path.join(d, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(f"""global
  nbthread 1
  ulimit-n {nofile}
  maxconn {maxconn}
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout client 300s
  timeout server 300s
  timeout connect 5s
  timeout http-keep-alive 300s
frontend web
  bind 127.0.0.1:{port}{bind}
  option forwardfor
  http-request set-header X-Forwarded-Proto {scheme}
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend app
backend app
  server s1 127.0.0.1:{backend_port}{server_proto}
""")
        argv = ["haproxy", "-db", "-f", path]
    elif name == "nginx":
        nginx_tls = ""
        if tls:
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
  upstream app {{
    server 127.0.0.1:{backend_port};
    keepalive {pool};
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen 127.0.0.1:{port}{" ssl" if tls else ""} http2 backlog=4096;{nginx_tls}
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_buffers 16 4k;
      proxy_max_temp_file_size 0;
    }}
  }}
}}
""")
        argv = ["nginx", "-p", d, "-c", path, "-g", "daemon off; master_process on;"]
    else:
        raise ValueError(name)
    return Service(name, argv, d, port, cpu)


# ---------------------------------------------------------------- a minimal h2 client
#
# Just enough HTTP/2 (RFC 9113) and HPACK (RFC 7541) to send one GET and read
# its answer, for the preflight and the idle load: h2load cannot hold
# connections idle, and python3-h2 is not among the bench's packages.

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
# RFC 7541 Appendix A: the static table's :status entries.
STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}
# RFC 7541 Appendix B: the Huffman codes of the digits, all a status needs.
HUFFMAN_DIGITS = {"00000": "0", "00001": "1", "00010": "2", "011001": "3", "011010": "4",
                  "011011": "5", "011100": "6", "011101": "7", "011110": "8", "011111": "9"}


def frame(ftype, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


def request_frames(authority, scheme, path="/"):
    """Preface, empty SETTINGS and one GET on stream 1 (RFC 7541 static
    entries for :method GET and :scheme, literals for :path and :authority)."""
    def literal(index, value):  # literal without indexing, indexed name, no Huffman (§6.2.2)
        v = value.encode()
        assert len(v) < 127
        return bytes([index, len(v)]) + v
    block = bytes([0x82, 0x87 if scheme == "https" else 0x86]) + literal(4, path) + literal(1, authority)
    return PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_STREAM | END_HEADERS, 1, block)


def hpack_int(buf, pos, prefix):
    """RFC 7541 §5.1: (value, position after it)."""
    mask = (1 << prefix) - 1
    value = buf[pos] & mask
    pos += 1
    if value < mask:
        return value, pos
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def huffman_digits(raw):
    bits = "".join(f"{b:08b}" for b in raw)
    out, code = "", ""
    for bit in bits:
        code += bit
        if code in HUFFMAN_DIGITS:
            out, code = out + HUFFMAN_DIGITS[code], ""
        elif len(code) > 6:
            break
    return out if set(code) <= {"1"} and len(code) < 8 else None


def response_status(block):
    """The :status of a response header block, the first field (RFC 9113
    §8.3: pseudo-header fields come first); None if it is not one this
    decoder knows (it reads the static table and literals only, all a first
    answer on a connection can use: the dynamic table is still empty)."""
    try:
        pos = 0
        while block[pos] & 0xE0 == 0x20:  # dynamic table size update (§6.3)
            _, pos = hpack_int(block, pos, 5)
        if block[pos] & 0x80:  # indexed field (§6.1)
            index, pos = hpack_int(block, pos, 7)
            return STATIC_STATUS.get(index)
        index, pos = hpack_int(block, pos, 6 if block[pos] & 0xC0 == 0x40 else 4)
        if index not in STATIC_STATUS:  # not a :status name
            return None
        huffman = block[pos] & 0x80
        length, pos = hpack_int(block, pos, 7)
        raw = bytes(block[pos:pos + length])
        text = huffman_digits(raw) if huffman else raw.decode("latin-1")
        return int(text) if text and text.isdigit() else None
    except IndexError:
        return None


async def read_frame(reader, preface=False):
    """(type, flags, stream, payload). preface: this is the server's first
    frame, which must be SETTINGS (RFC 9113 §3.4); a server answering in
    HTTP/1 (or anything else) is said so at once rather than read as a frame
    of a few megabytes."""
    head = await reader.readexactly(9)
    if preface and head[3] != SETTINGS:
        more = await asyncio.wait_for(reader.read(40), 1.0)
        raise ConnectionError(f"no HTTP/2 server preface: the answer starts {(head + more)[:40]!r}")
    length = int.from_bytes(head[:3], "big")
    stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
    return head[3], head[4], stream, await reader.readexactly(length)


def strip_padding(flags, payload, priority=False):
    start, end = 0, len(payload)
    if flags & PADDED:
        start, end = 1, len(payload) - payload[0]
    if priority and flags & PRIORITY:
        start += 5
    return payload[start:end]


async def h2_exchange(reader, writer, authority, scheme, path="/"):
    """Sends one GET on a fresh connection and reads the answer to stream 1:
    (status, body bytes). Raises ConnectionError on GOAWAY, RST_STREAM or a
    close before the end."""
    writer.write(request_frames(authority, scheme, path))
    status, body, block = None, b"", None
    first = True
    while True:
        try:
            ftype, flags, stream, payload = await read_frame(reader, preface=first)
        except asyncio.IncompleteReadError as e:
            got = f", after {e.partial[:40]!r}" if first and e.partial else ""
            raise ConnectionError(f"closed before the end of the answer{got}")
        first = False
        if ftype == SETTINGS and not flags & ACK:
            writer.write(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            writer.write(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            raise ConnectionError(f"GOAWAY error {int.from_bytes(payload[4:8], 'big')}")
        elif ftype == RST_STREAM and stream == 1:
            raise ConnectionError(f"RST_STREAM error {int.from_bytes(payload[:4], 'big')}")
        elif ftype in (HEADERS, CONTINUATION) and stream == 1:
            block = (block or b"") + (strip_padding(flags, payload, True) if ftype == HEADERS else payload)
            if flags & END_HEADERS:
                if status is None:  # trailers, if any, do not change it
                    status = response_status(block) or 0
                block = None
            if flags & END_STREAM and ftype == HEADERS:
                return status, body
        elif ftype == DATA and stream == 1:
            body += strip_padding(flags, payload)
            if flags & END_STREAM:
                return status, body


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed; what is measured is the proxy, not trust
    ctx.set_alpn_protocols(["h2"])
    return ctx


async def h2_open(port, tls, timeout):
    """(reader, writer) of a connection speaking h2: over TLS the server must
    have chosen h2 by ALPN."""
    ctx = client_context() if tls else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=SERVER_NAME if tls else None),
        timeout)
    if tls:
        alpn = writer.get_extra_info("ssl_object").selected_alpn_protocol()
        if alpn != "h2":
            writer.close()
            raise ConnectionError(f"ALPN chose {alpn!r}, not h2")
    return reader, writer


def h2_get(port, tls, path, timeout=10.0):
    """One GET over a new h2 connection: (status, body)."""
    async def one():
        reader, writer = await h2_open(port, tls, timeout)
        try:
            return await asyncio.wait_for(
                h2_exchange(reader, writer, f"127.0.0.1:{port}", "https" if tls else "http", path), timeout)
        finally:
            writer.close()
    return asyncio.run(one())


async def _open_idle(port, count, inflight, timeout):
    sem = asyncio.Semaphore(inflight)
    opened = []  # (reader, writer) of every connection answered
    state = {"non_2xx": 0, "failed": 0, "first_error": None}

    async def one():
        async with sem:
            try:
                reader, writer = await h2_open(port, True, timeout)
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as e:
                state["failed"] += 1
                state["first_error"] = state["first_error"] or f"connect: {e or type(e).__name__}"
                return
            try:
                status, body = await asyncio.wait_for(
                    h2_exchange(reader, writer, SERVER_NAME, "https"), timeout)
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as e:
                state["failed"] += 1
                state["first_error"] = state["first_error"] or f"GET: {e or type(e).__name__}"
                writer.transport.abort()
                return
            if not 200 <= (status or 0) < 300 or len(body) != SMALL_SIZE:
                state["non_2xx"] += 1
            opened.append((reader, writer))

    await asyncio.gather(*(one() for _ in range(count)))
    return opened, state


async def _still_idle(opened, wait=0.5):
    """How many connections are still open: one the proxy closed or sent a
    GOAWAY on is not idle (PINGs and other control frames are answered or
    let be)."""
    async def alive(reader, writer):
        deadline = time.monotonic() + wait
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                ftype, flags, _, payload = await asyncio.wait_for(read_frame(reader), left)
                if ftype == GOAWAY:
                    return False
                if ftype == PING and not flags & ACK:
                    writer.write(frame(PING, ACK, 0, payload))
        except asyncio.TimeoutError:
            return True
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            return False

    return sum(await asyncio.gather(*(alive(r, w) for r, w in opened)))


def idle_h2(pid, port, count, inflight=IDLE_INFLIGHT, timeout=20.0, hold=12.0):
    """Bytes of RSS (pid and descendants) per idle h2 connection over TLS:
    `count` connections, at most `inflight` opening at once, each negotiating
    h2 by ALPN and completing one GET (612 bytes), then left open; RSS read
    settled before and after (memory a proxy gives back once quiet counts as
    given back), the second time at least `hold` seconds after the last
    answer. A connection closed or sent a GOAWAY by then is an error."""
    raise_nofile()
    before, _ = _settled_rss(pid, 1.0, 10.0)
    loop = asyncio.new_event_loop()
    opened = []
    try:
        opened, state = loop.run_until_complete(_open_idle(port, count, inflight, timeout))
        # The proxy needs nothing from this loop while it settles: a blocking wait is fine.
        after, settle_s = _settled_rss(pid, hold, hold + 15.0)
        alive = loop.run_until_complete(_still_idle(opened))
        res = {"idle_conns": alive,
               "idle_bytes": (after - before) / alive if alive else None,
               "settle_s": settle_s, "dropped_while_idle": len(opened) - alive,
               "errors": state["non_2xx"] + state["failed"] + (len(opened) - alive)}
        if state["first_error"]:
            res["note"] = f"{state['failed']} failed, first: {state['first_error'][:80]}"
        return res
    finally:
        for _, w in opened:
            w.transport.abort()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


# ---------------------------------------------------------------- h2load

def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise RuntimeError(f"unexpected h2load time '{text}'")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def percentile(sorted_vals, p):
    """Nearest rank."""
    if not sorted_vals:
        return None
    return sorted_vals[max(0, math.ceil(p / 100 * len(sorted_vals)) - 1)]


def run_h2load(url, requests, clients, streams, cpu, log_file=None, timeout=300):
    """`h2load -n requests -c clients -m streams` on CPU `cpu`, giving up on a
    connection silent for 10 s and on the whole run after `timeout` s.
    errors = requests not answered with a 2xx (failed, errored, timed out,
    never sent, or a 3xx/4xx/5xx). p50/p99 from the per-request log when
    `log_file` is given (h2load prints no percentiles)."""
    # The TLS scenario's TLS 1.3 suites, so every proxy, whichever order it
    # prefers, negotiates the same one (h2load's own list starts with AES-128).
    argv = ["taskset", "-c", str(cpu), "h2load", "-n", str(requests), "-c", str(clients),
            "-m", str(streams), "-N", "10s", f"--tls13-ciphers={TLS_CIPHERSUITES}"]
    if log_file:
        argv.append(f"--log-file={log_file}")
    try:
        proc = subprocess.run(argv + [url], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"h2load did not finish within {timeout} s")
    out = proc.stdout + proc.stderr
    fin = re.search(r"finished in (\S+), ([\d.]+) req/s", out)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                    r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (fin and req and codes):
        raise RuntimeError(f"h2load gave no summary (exit {proc.returncode}): "
                           + " ".join(out.strip().splitlines()[-3:])[:300])
    total, _, done, succeeded, failed, errored, timed_out = (int(x) for x in req.groups())
    ok_2xx = int(codes.group(1))
    res = {"requests": ok_2xx, "rps": float(fin.group(2)), "done": done, "failed": failed,
           "errored": errored, "timeout": timed_out,
           "non_2xx": sum(int(x) for x in codes.groups()[1:]),
           "errors": requests - ok_2xx}
    m = re.search(r"\((\d+)\) data", out)
    res["data_bytes"] = int(m.group(1)) if m else None
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", out)
    res["mean_ms"] = to_ms(m.group(3)) if m else None
    res["max_ms"] = to_ms(m.group(2)) if m else None
    neg = {k: (m.group(1) if (m := re.search(rx, out)) else None) for k, rx in
           (("alpn", r"Application protocol: (\S+)"), ("protocol", r"TLS Protocol: (\S+)"),
            ("cipher", r"Cipher: (\S+)"), ("group", r"Server Temp Key: (\S+)"))}
    res["negotiated"] = " ".join(v for v in neg.values() if v)
    res["alpn"] = neg["alpn"]
    res["p50_ms"] = res["p99_ms"] = None
    if log_file and os.path.exists(log_file):
        with open(log_file) as f:
            times = sorted(int(parts[2]) / 1000 for parts in (line.split() for line in f)
                           if len(parts) >= 3 and parts[1].startswith("2"))
        res["p50_ms"], res["p99_ms"] = percentile(times, 50), percentile(times, 99)
        os.unlink(log_file)  # 100,000 lines a load: no need to keep them
    return res


# ---------------------------------------------------------------- preflight and measure

def preflight(name, port, tls, upstream, cpu):
    """Raises unless the proxy on `port` serves h2 (over TLS: chosen by ALPN)
    or h2c, forwards GET / whole and speaks the load's protocol to the
    backend. Returns what h2load negotiated."""
    problems = []
    try:
        status, body = h2_get(port, tls, "/")
        if status != 200 or len(body) != SMALL_SIZE:
            problems.append(f"GET / over h2: status {status}, {len(body)} of {SMALL_SIZE} body bytes")
        status, body = h2_get(port, tls, "/proto")
        spoken = body.decode("latin-1").strip()
        if status != 200 or spoken != BACKEND_PROTO[upstream]:
            problems.append(f"GET /proto: status {status}, backend spoken to in {spoken!r}, "
                            f"expected {BACKEND_PROTO[upstream]}")
    except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as e:
        problems.append(f"h2 GET: {e or type(e).__name__}")
    if problems:  # h2load would only say the same thing less clearly
        raise RuntimeError(f"{name} cannot serve the load: " + "; ".join(problems))
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/"
    res = run_h2load(url, 4, 1, 1, cpu, timeout=30)
    want = "h2" if tls else "h2c"
    if res["alpn"] != want or res["errors"] or res["data_bytes"] != 4 * SMALL_SIZE:
        raise RuntimeError(f"{name}: h2load -n 4 negotiated {res['alpn']!r} (want {want}), "
                           f"{res['errors']} errors, {res['data_bytes']} data bytes")
    return res["negotiated"]


def skipped_row(note):
    """reason: the note without its details, for the ratio and target lines."""
    return {"skipped": True, "note": note, "reason": note.split(" (")[0], "errors": 0}


def short_note(e):
    """One line for a failed row: the error, and for a proxy that did not
    start, the first line of its log that says why (temp paths left out)."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    if not lines:
        return type(e).__name__
    note = lines[0].rstrip(":")
    why = next((line for line in lines[1:] if re.search(r"error|alert|fatal|\[ALERT\]|emerg", line, re.I)),
               lines[1] if len(lines) > 1 else None)
    if why:
        why = re.sub(r" \(expected one of:.*", "", why)  # sluice's list of known keys
        note += ": " + re.sub(r"/\S*/", "", why)
    return note[:200]


def measure(load, name, backend, args, workdir, cpus, cert):
    proxy_cpu, load_cpu = cpus
    _, kind, tls, upstream = LOADS[load]
    try:
        svc = proxy_service(name, workdir, backend, proxy_cpu, args.sluice, args.nofile,
                            cert if tls else None, upstream,
                            max(256, args.h2_clients * args.h2_streams))
    except Unsupported as e:
        return skipped_row(str(e))
    proxy = svc.start()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{proxy.port}/"
    try:
        res = {"negotiated": preflight(name, proxy.port, tls, upstream, load_cpu)}
        if kind == "h2load":  # warm-up: pools and caches exist
            run_h2load(url, min(5000, args.h2_requests), args.h2_clients, args.h2_streams, load_cpu,
                       timeout=60)
        a0, r0 = backend.status()
        p0 = cpu_ticks(proxy.pid)
        if kind == "h2load":
            run = run_h2load(url, args.h2_requests, args.h2_clients, args.h2_streams, load_cpu,
                             os.path.join(workdir, "h2load.log"), timeout=args.h2_timeout)
            run.pop("negotiated")
            res.update(run)
            bad = [f"{run[k]} {k}" for k in ("failed", "errored", "timeout") if run[k]]
            if bad:
                res["note"] = "h2load: " + ", ".join(bad)
        else:
            res.update(idle_h2(proxy.pid, proxy.port, args.h2_idle_count, IDLE_INFLIGHT,
                               hold=args.h2_idle_hold))
            res["requests"] = res["idle_conns"] + res["dropped_while_idle"]
            if res["dropped_while_idle"]:
                res["note"] = (f"{res['dropped_while_idle']} connections closed (or sent GOAWAY) "
                               f"by {name} while idle")
        p1 = cpu_ticks(proxy.pid)
        a1, r1 = backend.status()
        res["backend_conns"] = a1 - a0 - 1  # the second reading is one connection and request
        res["backend_requests"] = r1 - r0 - 1
        res["cpu_us_per_req"] = (p1 - p0) / CLK_TCK * 1e6 / max(1, res["requests"])
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
    need = {"h2load": "nghttp2-client", "taskset": "util-linux", "nginx": "nginx-light",
            "haproxy": "haproxy", "openssl": "openssl"}
    return [pkg for tool, pkg in need.items() if shutil.which(tool) is None]


def run(args, tmp):
    proxies = [p for p in args.h2_proxies.split(",") if p]
    loads = [s for s in args.h2_loads.split(",") if s]
    for p in proxies:
        if p not in PROXIES:
            raise SystemExit(f"unknown proxy '{p}' (expected some of {','.join(PROXIES)})")
    for s in loads:
        if s not in LOADS:
            raise SystemExit(f"unknown h2 load '{s}' (expected some of {','.join(LOADS)})")
    if "sluice" in proxies and not os.access(args.sluice, os.X_OK):
        raise SystemExit(f"{args.sluice} not found: build it with `make build`")
    args.nofile = raise_nofile()
    args.h2_idle_count = min(args.h2_idle_connections, args.nofile - 200)
    cpus = cpu_pair()
    old_affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[1]})  # this script with the load, away from the proxy
    cert = make_certificates(os.path.join(tmp, "certs"))["ecdsa"]
    results = []
    backend = Backend(os.path.join(tmp, "backend"), cpus[1], args.nofile, h2=True)
    try:
        backend.start()
        for rnd in range(1, args.rounds + 1):
            for load in loads:
                for name in proxies:
                    d = os.path.join(tmp, f"{load}-{name}-{rnd}")
                    os.makedirs(d)
                    row = {"scenario": f"h2-{load}", "load": load, "proxy": name, "round": rnd}
                    try:
                        row.update(measure(load, name, backend, args, d, cpus, cert))
                    except Exception as e:  # keep the other proxies going; the exit status fails
                        print(f"{name} {load} round {rnd} failed:\n{traceback.format_exc()}",
                              file=sys.stderr)
                        row.update(failed_run=True, errors=None, note=short_note(e))
                    results.append(row)
                    print(progress(row), file=sys.stderr)
    finally:
        backend.stop()
        os.sched_setaffinity(0, old_affinity)
    print_table(results, proxies, loads, args)
    return results


def progress(r):
    head = f"{r['proxy']} {r['load']} round {r['round']}"
    if r.get("failed_run"):
        return f"{head}: FAILED ({r['note']})"
    if r.get("skipped"):
        return f"{head}: {r['note']}"
    if LOADS[r["load"]][1] == "idle":
        return (f"{head}: {r['idle_conns']} h2 conns, {fmt(r['idle_bytes'], '.0f')} B/conn "
                f"(settled {r['settle_s']:.1f} s), {r['errors']} errors")
    return (f"{head}: {r['rps']:.0f} req/s, p99 {fmt(r['p99_ms'], '.2f')} ms, "
            f"{r['cpu_us_per_req']:.1f} CPU-us/req, {r['backend_conns']} backend conns, "
            f"{r['errors']} errors [{r['negotiated']}]")


def print_table(results, proxies, loads, args):
    proxy_cpu, load_cpu = cpu_pair()
    print(f"\n## HTTP/2: h2 clients, one nginx backend, one worker per proxy, proxy on CPU "
          f"{proxy_cpu}, backend + h2load on CPU {load_cpu}\n")
    print(f"h2load -n {args.h2_requests} -c {args.h2_clients} -m {args.h2_streams} (GET /, 612 B), "
          "HTTP/1.1 keep-alive to the backend except `up-h2c` (h2c to the backend's http2 port). "
          "p50/p99: from h2load's per-request log (--log-file); mean: its \"time for request\" line. "
          f"Idle: {args.h2_idle_count} TLS connections negotiating h2, one GET each, then idle, RSS "
          f"growth per connection once settled, at least {args.h2_idle_hold:g} s after the last "
          "answer, every connection still open. CPU-µs: the proxy's processes only. backend conns: "
          "connections the backend accepted during the load. TLS: self-signed ECDSA P-256, "
          "the TLS scenario's settings.\n")
    print("| load | proxy | round | req/s | p50 ms | p99 ms | mean ms | CPU-µs/req | backend conns "
          "| idle B/conn | negotiated | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        label = LOADS[r["load"]][0]
        if r.get("failed_run"):
            print(f"| {label} | {r['proxy']} | {r['round']} | **FAILED: {r['note']}** | | | | | | | | |")
            continue
        if r.get("skipped"):
            print(f"| {label} | {r['proxy']} | {r['round']} | {r['note']} | | | | | | | | |")
            continue
        idle = LOADS[r["load"]][1] == "idle"
        err = str(r["errors"]) if not r["errors"] else f"**{r['errors']}**"
        if r.get("non_2xx"):
            err += f" ({r['non_2xx']} non-2xx)"
        if r.get("note"):
            err += f" {r['note']}"
        dash = "—"
        print(f"| {label} | {r['proxy']} | {r['round']} "
              f"| {dash if idle else fmt(r['rps'], '.0f')} "
              f"| {dash if idle else fmt(r['p50_ms'], '.2f')} "
              f"| {dash if idle else fmt(r['p99_ms'], '.2f')} "
              f"| {dash if idle else fmt(r['mean_ms'], '.2f')} "
              f"| {fmt(r['cpu_us_per_req'], '.1f')} | {r['backend_conns']} "
              f"| {fmt(r['idle_bytes'], '.0f') + ' (' + str(r['idle_conns']) + ')' if idle else dash} "
              f"| {r['negotiated']} | {err} |")
    print_ratios(results, proxies, loads)


def rows(results, proxy, load):
    return [r for r in results if r["proxy"] == proxy and r["load"] == load and not r.get("skipped")]


def better_peer(results, proxies, load, key):
    """(name, rows) of the peer with the lower mean `key` on `load`, among
    those measured without a failed round."""
    best = None
    for p in PEERS:
        rs = rows(results, p, load) if p in proxies else []
        if not rs or any(r.get("failed_run") for r in rs) or mean(rs, key) is None:
            continue
        if best is None or mean(rs, key) < mean(best[1], key):
            best = (p, rs)
    return best


def print_ratios(results, proxies, loads):
    if "sluice" not in proxies:
        return
    print("\n| ratio (mean of rounds) | load | CPU-µs/req (lower is better) | req/s (higher) "
          "| p99 (lower) | idle B/conn (lower) | note |")
    print("|---|---|---|---|---|---|---|")
    for load in loads:
        s = rows(results, "sluice", load)
        idle = LOADS[load][1] == "idle"
        key = "idle_bytes" if idle else "cpu_us_per_req"
        best = better_peer(results, proxies, load, key)
        pairs = [(p, rows(results, p, load)) for p in PEERS if p in proxies]
        if best:
            pairs.append((f"better peer ({best[0]})", best[1]))
        for other, o in pairs:
            if not s or not o:
                who = "sluice" if not s else other.split(" ")[0]
                why = next((r["reason"] for r in results if r["load"] == load and r.get("skipped")
                            and r["proxy"] == who), "not measured")
                print(f"| sluice / {other} | {LOADS[load][0]} | n/a | n/a | n/a | n/a | {why} |")
                continue
            cells = [ratio(mean(s, "cpu_us_per_req"), mean(o, "cpu_us_per_req"))]
            if idle:
                cells += [None, None, ratio(mean(s, "idle_bytes"), mean(o, "idle_bytes"))]
            else:
                cells += [ratio(mean(s, "rps"), mean(o, "rps")),
                          ratio(mean(s, "p99_ms"), mean(o, "p99_ms")), None]
            failed = [n for n, rs in (("sluice", s), (other, o)) if any(r.get("failed_run") for r in rs)]
            bad = [n for n, rs in (("sluice", s), (other, o)) if any(r.get("errors") for r in rs)]
            note = (f"failed rounds from {' and '.join(failed)}: not comparable" if failed else
                    f"errors from {' and '.join(bad)}: not comparable" if bad else "")
            print(f"| sluice / {other} | {LOADS[load][0]} | "
                  + " | ".join(fmt(c, ".2f", "n/a") for c in cells) + f" | {note} |")
    print_targets(results, proxies, loads)


def print_targets(results, proxies, loads):
    """Issue 17's target: CPU per request at most the better peer's (means of
    rounds), on every h2load load."""
    if "sluice" not in proxies:
        return
    print("\nIssue 17 target, CPU-µs per request at most the better peer's (means of rounds; a "
          "noisy machine: read with the rounds above):\n")
    for load in loads:
        if LOADS[load][1] != "h2load":
            continue
        label = LOADS[load][0]
        s = rows(results, "sluice", load)
        best = better_peer(results, proxies, load, "cpu_us_per_req")
        skipped = [r["reason"] for r in results if r["load"] == load and r["proxy"] == "sluice"
                   and r.get("skipped")]
        if skipped:
            verdict = f"not measured ({skipped[0]})"
        elif not best:
            verdict = "**not measured** (no peer measured without a failed round)"
        elif not s or any(r.get("failed_run") for r in s) or mean(s, "cpu_us_per_req") is None:
            verdict = "**not measured** (sluice failed)"
        else:
            sv, ov = mean(s, "cpu_us_per_req"), mean(best[1], "cpu_us_per_req")
            errs = " (with errors: not comparable)" if any(r.get("errors") for r in s + best[1]) else ""
            verdict = f"{'met' if sv <= ov else '**NOT met**'} ({sv:.1f} vs {best[0]} {ov:.1f}){errs}"
        print(f"- {label}: {verdict}")
