#!/usr/bin/env python3
"""The dashboard in a real browser (issue 19): headless Chromium, driven
through the DevTools protocol over --remote-debugging-pipe, loads the page
from a running sluice and sees what an operator would:

  - both servers of a health-checked backend up; one down when its process
    is killed, up again when it comes back on the same port;
  - a drain refused without the token (the error shown), done with it (the
    page and GET /backends say draining), and an enable;
  - one route found by searching among 5,000;
  - the configuration generation and the last reload's result, applied
    and refused;
  - rates from /metrics when it exists, else a notice that it does not;
  - names holding markup shown as text; no script error, no Content
    Security Policy violation.

Usage: dashboard_test.py SLUICE_BINARY. Exits 77 (CTest's SKIP_RETURN_CODE)
without Chromium. Waits are on events (DOM mutations, log lines), each
bounded; nothing sleeps to synchronise.
"""
import base64
import fcntl
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

SKIP = 77
TIMEOUT_S = 30  # per wait: generous, as ctest -j2 shares two cores
TOKEN = "dashboard-test-token"
HOSTILE_BACKEND = "<img/src=x/onerror=document.title='pwned'>"
HOSTILE_ROUTE = "<b>bold</b>"
ROUTES = 5000


class Failure(Exception):
    pass


# ---- backend servers: real processes, so that one can be killed -----------

def serve_backend(port, name):
    """Child mode: answers /health with 200 and anything else with its name."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"ok\n" if self.path == "/health" else (name + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    # allow_reuse_address (SO_REUSEADDR): the same port again after a kill.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


class Backend:
    def __init__(self, name, port=0):
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-backend", str(port), name],
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # its first line, or EOF if it died
        if not line.startswith("listening "):
            raise Failure(f"backend {name} did not start on port {port}")
        self.port = int(line.split()[1])

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def kill(self):
        self.proc.kill()
        self.proc.wait()


# ---- sluice ------------------------------------------------------------------

class Sluice:
    def __init__(self, binary, directory, config):
        self.path = os.path.join(directory, "sluice.yaml")
        with open(self.path, "w") as f:
            f.write(config)
        self.lines = []
        self.changed = threading.Condition()
        self.proc = subprocess.Popen([binary, "run", "-c", self.path], cwd=directory,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.wait_for_line("sluice ready")
        admin = self.wait_for_line("admin listening on ")
        listener = self.wait_for_line("listener 'web' listening on ")
        if not ready or not admin or not listener:
            raise Failure("sluice did not start:\n" + self.output())
        self.admin_port = int(admin.rsplit(":", 1)[1].split()[0])
        self.web_port = int(listener.split("listening on ")[1].split()[0].rsplit(":", 1)[1])

    def _read(self):
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # exited
            self.changed.notify_all()

    def wait_for_line(self, text, timeout=TIMEOUT_S):
        found = []

        def seen():
            found[:] = [l for l in self.lines if l is not None and text in l]
            return found or None in self.lines

        with self.changed:
            self.changed.wait_for(seen, timeout)
        return found[0].strip() if found else None

    def output(self):
        with self.changed:
            return "".join(l for l in self.lines if l is not None)

    def admin(self, method, path, body=None, headers=None):
        """(status, body) of a request to the admin listener."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}", data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def make_config(app_servers, hostile_server, routes=ROUTES):
    lines = [
        "workers: 1",
        "admin:",
        "  listen: 127.0.0.1:0",
        "  token_file: admin.token",
        "listeners:",
        "  - name: web",
        "    listen: 127.0.0.1:0",
        "routes:",
        f"  - name: {json.dumps(HOSTILE_ROUTE)}",
        "    match: {host: hostile.example.com}",
        f"    backend: {json.dumps(HOSTILE_BACKEND)}",
    ]
    for i in range(routes - 1):
        lines += [f"  - name: r{i}",
                  f"    match: {{host: h{i}.example.com, path: /p{i}/}}",
                  "    backend: app"]
    lines += [
        "backends:",
        "  app:",
        f"    servers: [{', '.join(app_servers)}]",
        "    health_check: {path: /health, interval: 500ms, timeout: 500ms, rise: 1, fall: 2}",
        f"  {json.dumps(HOSTILE_BACKEND)}:",
        f"    servers: [{hostile_server}]",
    ]
    return "\n".join(lines) + "\n"


# ---- Chromium over the DevTools protocol -------------------------------------

class Browser:
    """Chromium with --remote-debugging-pipe: it reads commands from fd 3 and
    writes answers and events to fd 4, each a JSON text ended by a NUL."""

    def __init__(self, chromium, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # The child's ends above 4, so that neither dup2 below clobbers the
        # other; close-on-exec, so that only fds 3 and 4 reach Chromium.
        child_in = fcntl.fcntl(to_child_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_child_r)
        os.close(from_child_w)
        args = [chromium, "--headless=new", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-component-update", "--mute-audio"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.log = os.path.join(profile, "chromium.log")
        # posix_spawn: no Python code runs in the child, so the threads
        # this process already has cannot deadlock it.
        self.pid = os.posix_spawn(chromium, args + ["about:blank"], os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, self.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
            (os.POSIX_SPAWN_DUP2, child_in, 3),
            (os.POSIX_SPAWN_DUP2, child_out, 4),
        ], setpgroup=0)
        os.close(child_in)
        os.close(child_out)
        self.next_id = 0
        self.answers = {}
        self.events = []
        self.changed = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        pending = b""
        while True:
            chunk = os.read(self.from_child, 65536)
            if not chunk:
                break
            pending += chunk
            *messages, pending = pending.split(b"\0")
            with self.changed:
                for m in messages:
                    msg = json.loads(m)
                    if "id" in msg:
                        self.answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self.changed.notify_all()
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def send(self, method, params=None, session=None, timeout=TIMEOUT_S):
        with self.changed:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        with self.changed:
            if not self.changed.wait_for(lambda: mid in self.answers or self.closed, timeout):
                raise Failure(f"no answer to {method} within {timeout} s")
            if mid not in self.answers:
                raise Failure(f"Chromium exited during {method}: see {self.log}")
            answer = self.answers.pop(mid)
        if "error" in answer:
            raise Failure(f"{method}: {answer['error']}")
        return answer["result"]

    def wait_event(self, method, session, timeout=TIMEOUT_S):
        def find():
            return next((e for e in self.events
                         if e["method"] == method and e.get("sessionId") == session), None)
        with self.changed:
            if not self.changed.wait_for(lambda: find() is not None or self.closed, timeout):
                raise Failure(f"no {method} within {timeout} s")
            return find()

    def events_named(self, method):
        with self.changed:
            return [e for e in self.events if e["method"] == method]

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Failure:
            pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # renderers and helpers too
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


class Page:
    def __init__(self, browser, url):
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget",
                                    {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event("Page.loadEventFired", self.session)

    def send(self, method, params=None, timeout=TIMEOUT_S):
        return self.browser.send(method, params, self.session, timeout)

    def eval(self, expression, timeout=TIMEOUT_S):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout + 10)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise Failure(details.get("exception", {}).get("description", details.get("text")))
        return result["result"].get("value")

    def wait_until(self, condition, what, timeout=TIMEOUT_S):
        """Waits until the JS expression `condition` is truthy, re-evaluated
        on every change of the DOM (a MutationObserver), and returns its
        value; fails after `timeout` seconds, showing what the page says."""
        script = """new Promise((resolve, reject) => {
          const check = () => {
            let v;
            try { v = (%s); } catch (e) { v = undefined; }
            if (v) { observer.disconnect(); clearTimeout(timer); resolve(v); }
          };
          const observer = new MutationObserver(check);
          observer.observe(document, {subtree: true, childList: true, characterData: true,
                                      attributes: true});
          const timer = setTimeout(() => { observer.disconnect(); reject(new Error('timeout')); },
                                   %d);
          check();
        })""" % (condition, timeout * 1000)
        try:
            value = self.eval(script, timeout)
        except Failure as e:
            raise Failure(f"waiting for {what}: {e}\n--- the page says:\n" +
                          str(self.eval("document.body.innerText")))
        print(f"ok: {what}", flush=True)
        return value


# Helpers defined in the page (Runtime.evaluate is not bound by its CSP).
PAGE_HELPERS = """
window.T = {
  serverRow: (b, s) => [...document.querySelectorAll('#servers tbody tr')]
      .find((r) => r.dataset.backend === b && r.dataset.server === s),
  cell: (row, i) => (row ? row.children[i].textContent : null),
  health: (b, s) => T.cell(T.serverRow(b, s), 2),
  state: (b, s) => T.cell(T.serverRow(b, s), 3),
  click: (b, s, cls) => { T.serverRow(b, s).querySelector('button.' + cls).click(); return true; },
  text: (id) => document.getElementById(id).textContent,
  routeRow: (name) => [...document.querySelectorAll('#routes tbody tr')]
      .find((r) => r.dataset.route === name),
  search: (text) => {
    const box = document.getElementById('route-search');
    box.value = text;
    box.dispatchEvent(new Event('input'));
    return true;
  },
};
true
"""


def js(value):
    return json.dumps(value)


# ---- the test ----------------------------------------------------------------

def run(sluice_binary, chromium, work):
    profile = os.path.join(work, "profile")
    os.mkdir(profile)
    # First, before any thread starts (Chromium is spawned without fork
    # hazards anyway).
    browser = Browser(chromium, profile)
    backends = [Backend("a"), Backend("b")]
    sluice = None
    try:
        a, b = backends
        with open(os.path.join(work, "admin.token"), "w") as f:
            f.write(TOKEN + "\n")
        config = make_config([a.address, b.address], b.address)
        sluice = Sluice(sluice_binary, work, config)
        run_steps(browser, sluice, backends, config)
    except Failure:
        if sluice:
            print("--- sluice's log (last 60 lines):\n" +
                  "".join(sluice.output().splitlines(True)[-60:]), file=sys.stderr)
        raise
    finally:
        browser.close()
        for backend in backends:
            backend.kill()
        if sluice:
            sluice.stop()


def run_steps(browser, sluice, backends, config):
    a, b = backends
    status, _, headers = sluice.admin("GET", "/dashboard")
    csp = headers.get("Content-Security-Policy", "")
    if status != 200 or "default-src 'self'" not in csp:
        raise Failure(f"GET /dashboard: {status}, Content-Security-Policy {csp!r}")
    print("ok: the page comes with Content-Security-Policy: default-src 'self'", flush=True)

    page = Page(browser, f"http://127.0.0.1:{sluice.admin_port}/dashboard")
    page.eval(PAGE_HELPERS)

    page.wait_until(f"T.health('app', {js(a.address)}) === 'up' && "
                    f"T.health('app', {js(b.address)}) === 'up'", "both servers show up")
    page.wait_until("T.text('generation') === '1' && "
                    "T.text('reload') === 'none since start'", "generation 1, no reload yet")

    # Names holding markup are text: no element is made of them.
    page.wait_until(
        f"[...document.querySelectorAll('#backends tbody tr')].some((r) => "
        f"r.children[0].textContent === {js(HOSTILE_BACKEND)}) && "
        "document.querySelector('main img, main b') === null && document.title === 'sluice'",
        "a backend name holding markup shows as text")

    a.kill()
    page.wait_until(f"T.health('app', {js(a.address)}) === 'down'",
                    "a server whose process was killed shows down")
    page.wait_until("document.querySelector('#backends tr[data-backend=\"app\"]')"
                    ".children[2].textContent === '1/2'", "its backend shows 1 of 2 up")
    backends[0] = a = Backend("a", a.port)
    page.wait_until(f"T.health('app', {js(a.address)}) === 'up'",
                    "the server shows up again once restarted on its port")

    # Drain without the token: refused, and the page says why.
    page.eval(f"T.click('app', {js(b.address)}, 'drain')")
    page.wait_until("T.text('action-result').includes('401')",
                    "a drain without the token shows the 401")
    if page.eval(f"T.state('app', {js(b.address)})") != "enabled":
        raise Failure("a refused drain changed the server's state")

    page.eval(f"document.getElementById('token').value = {js(TOKEN)}; "
              "document.getElementById('token-use').click(); true")
    page.wait_until("T.text('token-state') === 'token set for this tab'", "the token is kept")
    page.eval(f"T.click('app', {js(b.address)}, 'drain')")
    page.wait_until(f"T.state('app', {js(b.address)}) === 'draining' && "
                    "T.text('action-result').includes('now draining')",
                    "a click on Drain shows the server draining")
    _, body, _ = sluice.admin("GET", "/backends")
    states = {(bk["name"], s["address"]): s["admin_state"]
              for bk in json.loads(body)["backends"] for s in bk["servers"]}
    if states[("app", b.address)] != "draining" or states[(HOSTILE_BACKEND, b.address)] != "enabled":
        raise Failure(f"GET /backends after the drain: {states}")
    print("ok: GET /backends says draining (for that backend only)", flush=True)
    page.eval(f"T.click('app', {js(b.address)}, 'enable')")
    page.wait_until(f"T.state('app', {js(b.address)}) === 'enabled'",
                    "a click on Enable shows it enabled")

    # Routes: the first page of 5,000, then a search that finds one.
    page.wait_until(f"T.text('route-count') === '{ROUTES} routes, first 50 shown'",
                    f"the route list shows the first 50 of {ROUTES}")
    page.eval("T.search('h4217.example')")
    found = page.wait_until(
        f"T.text('route-count') === '1 of {ROUTES} routes match' && T.routeRow('r4217') && "
        "document.querySelectorAll('#routes tbody tr').length === 1 && "
        "T.routeRow('r4217').innerText",
        "a search among 5,000 routes finds the one")
    if "h4217.example.com" not in found or "/p4217/" not in found or "app" not in found:
        raise Failure(f"the route found shows {found!r}")
    page.eval(f"T.search({js('<b>')})")
    page.wait_until(f"T.routeRow({js(HOSTILE_ROUTE)}) && "
                    f"T.routeRow({js(HOSTILE_ROUTE)}).children[0].textContent === "
                    f"{js(HOSTILE_ROUTE)} && document.querySelector('main b') === null",
                    "a route name holding markup shows as text")

    check_metrics(page, sluice)

    # Reloads: the generation and the last outcome.
    auth = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/yaml"}
    status, body, _ = sluice.admin("POST", "/config", config.encode(), auth)
    if status != 200:
        raise Failure(f"POST /config: {status} {body}")
    page.wait_until("T.text('generation') === '2' && T.text('reload').startsWith('applied')",
                    "an applied reload shows generation 2")
    status, body, _ = sluice.admin("POST", "/config", b"listeners: [{name: web}]\n", auth)
    if status != 400:
        raise Failure(f"POST /config of a broken configuration: {status} {body}")
    page.wait_until("T.text('generation') === '2' && T.text('reload').startsWith('refused') && "
                    "T.text('reload-messages').includes('error')",
                    "a refused reload shows refused, with its errors")

    exceptions = browser.events_named("Runtime.exceptionThrown")
    if exceptions:
        raise Failure("the page threw: " + json.dumps(exceptions[0]["params"])[:2000])
    blocked = [e["params"]["entry"]["text"] for e in browser.events_named("Log.entryAdded")
               if "Content Security Policy" in e["params"]["entry"]["text"]]
    if blocked:
        raise Failure("the page broke its Content Security Policy: " + blocked[0])
    print("ok: no script error, no Content Security Policy violation", flush=True)
    screenshot = os.environ.get("SLUICE_DASHBOARD_SCREENSHOT")  # a PNG to look at
    if screenshot:
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        shot = page.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))


def check_metrics(page, sluice):
    status, _, _ = sluice.admin("GET", "/metrics")
    if status != 200:
        page.wait_until(f"T.text('notices').includes('/metrics answered {status}')",
                        f"without /metrics ({status}) the page says so and works on")
        return
    # With metrics: requests through route r7 show as a rate on its row.
    page.eval("T.search('h7.example')")
    page.wait_until("T.routeRow('r7') && document.querySelectorAll('#routes tbody tr').length === 1",
                    "route r7 listed")
    done = threading.Event()

    def load():
        while not done.is_set():
            req = urllib.request.Request(f"http://127.0.0.1:{sluice.web_port}/p7/x",
                                         headers={"Host": "h7.example.com"})
            try:
                urllib.request.urlopen(req, timeout=5).read()
            except OSError:
                pass

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        page.wait_until("(() => { const t = T.routeRow('r7').children[6].textContent; "
                        "return t !== '–' && t !== '0' && parseFloat(t) > 0; })()",
                        "requests through a route show as its rate")
    finally:
        done.set()
        thread.join()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve-backend":
        serve_backend(int(sys.argv[2]), sys.argv[3])
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    chromium = os.environ.get("SLUICE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("skipped: no chromium (scripts/install-deps.sh test installs it)")
        return SKIP
    work = tempfile.mkdtemp(prefix="sluice-dashboard-")
    try:
        run(os.path.abspath(sys.argv[1]), chromium, work)
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("dashboard: all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
