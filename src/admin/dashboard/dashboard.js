// The sluice dashboard. Every second it reads /status, /backends and
// /metrics (Prometheus text) from the admin listener that served it, and
// computes rates, error ratios and latency quantiles from the difference
// between two successive scrapes. Routes are searched on the server
// (/routes?search=), so 5,000 of them never reach the page at once.
//
// Names come from the configuration and may hold markup: they are only
// ever written as text (el() below, textContent), never parsed as HTML.
'use strict';

(() => {
  const POLL_MS = 1000;
  const ROUTE_PAGE = 50;
  const TOKEN_KEY = 'sluice-admin-token';
  const $ = (id) => document.getElementById(id);

  // ---- DOM helpers -------------------------------------------------------

  // el('td', {class: 'num'}, 'text', node): strings become text nodes.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.dataset[k.slice(5)] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  // Sets a cell's text (and class) only when it changed, so a poll that
  // changes nothing leaves the DOM alone.
  function setCell(cell, text, cls) {
    text = String(text);
    if (cell.textContent !== text) cell.textContent = text;
    if (cls !== undefined && cell.className !== cls) cell.className = cls;
  }

  // Keeps one row per key in `tbody`, in the order of `items`: rows are
  // reused (a button keeps its focus), new ones made by `create`, rows of
  // keys that went away removed. `update(row, item)` fills the cells.
  function syncRows(tbody, items, keyOf, create, update) {
    const rows = tbody._rows || (tbody._rows = new Map());
    const seen = new Set();
    let before = tbody.firstChild;
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      let row = rows.get(key);
      if (!row) {
        row = create(item);
        rows.set(key, row);
      }
      update(row, item);
      if (row !== before) tbody.insertBefore(row, before);
      else before = before.nextSibling;
    }
    for (const [key, row] of rows) {
      if (!seen.has(key)) {
        row.remove();
        rows.delete(key);
      }
    }
  }

  function cells(n, numericFrom) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(el('td', i >= numericFrom ? {class: 'num'} : {}));
    return out;
  }

  // ---- formatting --------------------------------------------------------

  const DASH = '–';
  function fmtRate(r) {
    if (r === undefined || r === null || Number.isNaN(r)) return DASH;
    if (r === 0) return '0';
    return r < 10 ? r.toFixed(2) : r < 100 ? r.toFixed(1) : Math.round(r).toString();
  }
  function fmtRatio(errors, total) {
    if (errors === undefined || total === undefined) return DASH;
    if (total === 0) return '0%';
    return (100 * errors / total).toFixed(errors === total || errors === 0 ? 0 : 1) + '%';
  }
  function fmtSeconds(s) {
    if (s === undefined || s === null || Number.isNaN(s)) return DASH;
    if (s < 0.001) return (s * 1e6).toFixed(0) + ' µs';
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + ' ms';
    return s.toFixed(2) + ' s';
  }
  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor(seconds % 86400 / 3600);
    const m = Math.floor(seconds % 3600 / 60);
    const s = seconds % 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  // ---- the admin API -----------------------------------------------------

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  // Same-origin requests: the admin listener's Host and Origin checks pass.
  // The token goes with every request when typed (off loopback, reads need
  // it too).
  async function call(path, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (token()) headers.Authorization = 'Bearer ' + token();
    const response = await fetch(path, Object.assign({cache: 'no-store'}, options, {headers}));
    const text = await response.text();
    if (!response.ok) {
      const err = new Error(`${response.status} ${text.trim() || response.statusText}`);
      err.status = response.status;
      throw err;
    }
    return text;
  }
  const getJson = async (path) => JSON.parse(await call(path));

  // ---- Prometheus text format (exposition format 0.0.4) -----------------

  // Returns a Map from sample name (e.g. "sluice_requests_total",
  // "sluice_request_duration_seconds_bucket") to [{labels, value}].
  function parseMetrics(text) {
    const samples = new Map();
    for (const line of text.split('\n')) {
      if (line === '' || line[0] === '#') continue;
      const sample = parseSample(line);
      if (!sample) continue;
      let list = samples.get(sample.name);
      if (!list) samples.set(sample.name, list = []);
      list.push(sample);
    }
    return samples;
  }

  function parseSample(line) {
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd <= 0) return null;
    const name = line.slice(0, nameEnd);
    const labels = {};
    let i = nameEnd;
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0 || line[eq + 1] !== '"') return null;
        const key = line.slice(i, eq).trim();
        let value = '';
        let j = eq + 2;
        for (; j < line.length && line[j] !== '"'; j++) {
          if (line[j] === '\\' && j + 1 < line.length) {
            j++;
            value += line[j] === 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.length) return null;
        labels[key] = value;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      if (line[i] !== '}') return null;
      i++;
    }
    const fields = line.slice(i).trim().split(/\s+/);
    const value = parseValue(fields[0]);
    if (value === null) return null;
    return {name, labels, value};
  }

  function parseValue(text) {
    if (text === '+Inf' || text === 'Inf') return Infinity;
    if (text === '-Inf') return -Infinity;
    if (text === 'NaN') return NaN;
    const v = Number(text);
    return text === undefined || text === '' || Number.isNaN(v) ? null : v;
  }

  // Sums the samples of `name` by the key keyOf(labels) gives (skipped when
  // it returns undefined). Absent name: null.
  function sumBy(scrape, name, keyOf) {
    const list = scrape.get(name);
    if (!list) return null;
    const out = new Map();
    for (const s of list) {
      const key = keyOf(s.labels);
      if (key === undefined) continue;
      out.set(key, (out.get(key) || 0) + s.value);
    }
    return out;
  }

  // A counter's increase between scrapes: a restart (a smaller value)
  // counts from zero.
  function increase(now, before) {
    if (before === undefined) return undefined;
    return now >= before ? now - before : now;
  }

  // Per key: requests per second and the 5xx among them, from a counter
  // family with a `code` label.
  function traffic(prev, cur, seconds, name, keyOf) {
    const all = (s) => sumBy(s, name, keyOf);
    const failed = (s) => sumBy(s, name, (l) => (l.code === '5xx' ? keyOf(l) : undefined));
    const [a0, a1, f0, f1] = [all(prev), all(cur), failed(prev), failed(cur)];
    if (!a1) return null;
    const out = new Map();
    for (const [key, total] of a1) {
      const requests = a0 ? increase(total, a0.get(key)) : undefined;
      const errors = f0 && f1 ? increase(f1.get(key) || 0, f0.get(key) || 0) : undefined;
      out.set(key, {
        rate: requests === undefined ? undefined : requests / seconds,
        requests,
        errors: requests === undefined ? undefined : (errors === undefined ? 0 : errors),
      });
    }
    return out;
  }

  // Per key: the latency histogram's increase between scrapes, and its
  // quantiles interpolated within buckets as Prometheus'
  // histogram_quantile() does.
  function latency(prev, cur, family, keyOf) {
    const bucketsOf = (s) => {
      const list = s.get(family + '_bucket');
      if (!list) return null;
      const out = new Map();
      for (const b of list) {
        const key = keyOf(b.labels);
        if (key === undefined) continue;
        let m = out.get(key);
        if (!m) out.set(key, m = new Map());
        const le = parseValue(b.labels.le);
        m.set(le, (m.get(le) || 0) + b.value);
      }
      return out;
    };
    const b0 = bucketsOf(prev);
    const b1 = bucketsOf(cur);
    if (!b0 || !b1) return null;
    const out = new Map();
    for (const [key, now] of b1) {
      const before = b0.get(key) || new Map();
      const les = [...now.keys()].sort((x, y) => x - y);
      const counts = les.map((le) => increase(now.get(le), before.get(le) || 0));
      out.set(key, {p50: quantile(0.5, les, counts), p95: quantile(0.95, les, counts)});
    }
    return out;
  }

  function quantile(q, les, cumulative) {
    const total = cumulative[cumulative.length - 1];
    if (!total) return undefined;
    const rank = q * total;
    for (let i = 0; i < les.length; i++) {
      if (cumulative[i] < rank) continue;
      if (les[i] === Infinity) return i > 0 ? les[i - 1] : undefined;
      const lower = i > 0 ? les[i - 1] : 0;
      const below = i > 0 ? cumulative[i - 1] : 0;
      const inBucket = cumulative[i] - below;
      return inBucket > 0 ? lower + (les[i] - lower) * (rank - below) / inBucket : les[i];
    }
    return undefined;
  }

  // ---- state -------------------------------------------------------------

  const state = {
    status: null,
    backends: null,
    scrape: null,      // {at (ms), samples}
    previous: null,
    stats: {},         // computed from the last two scrapes
    metricsError: '',  // why /metrics gave nothing, shown as a notice
    routes: {query: '', items: [], matched: 0, total: 0, seq: 0},
  };

  const SEP = '\u0000';

  function computeStats() {
    const stats = {};
    const missing = [];
    if (state.scrape && state.previous) {
      const prev = state.previous.samples;
      const cur = state.scrape.samples;
      const seconds = (state.scrape.at - state.previous.at) / 1000;
      const family = (name, make) => {
        const v = make();
        if (v === null) missing.push(name);
        return v || new Map();
      };
      stats.byListener = family('sluice_requests_total',
        () => traffic(prev, cur, seconds, 'sluice_requests_total', (l) => l.listener));
      stats.byRoute = family('sluice_requests_total',
        () => traffic(prev, cur, seconds, 'sluice_requests_total', (l) => l.route || undefined));
      stats.byBackend = family('sluice_requests_total',
        () => traffic(prev, cur, seconds, 'sluice_requests_total', (l) => l.backend || undefined));
      stats.byServer = family('sluice_server_requests_total',
        () => traffic(prev, cur, seconds, 'sluice_server_requests_total',
          (l) => l.backend + SEP + l.server));
      stats.routeLatency = family('sluice_request_duration_seconds',
        () => latency(prev, cur, 'sluice_request_duration_seconds', (l) => l.route));
      stats.backendLatency = family('sluice_first_byte_seconds',
        () => latency(prev, cur, 'sluice_first_byte_seconds', (l) => l.backend));
      stats.serverLatency = family('sluice_first_byte_seconds',
        () => latency(prev, cur, 'sluice_first_byte_seconds', (l) => l.backend + SEP + l.server));
      stats.connections = sumBy(cur, 'sluice_client_connections',
        (l) => l.listener + SEP + l.state) || new Map();
      stats.ready = true;
    }
    stats.missing = [...new Set(missing)];
    state.stats = stats;
  }

  // ---- rendering ---------------------------------------------------------

  function trafficCells(row, first, t, lat) {
    const td = row.children;
    const ready = state.stats.ready;
    setCell(td[first], ready && t ? fmtRate(t.rate) : DASH);
    setCell(td[first + 1], ready && t ? fmtRatio(t.errors, t.requests) : DASH,
      ready && t && t.errors > 0 ? 'num bad' : 'num');
    if (lat !== false) setCell(td[first + 2], ready && lat ? fmtSeconds(lat.p95) : DASH);
  }

  function renderOverview() {
    const s = state.status;
    if (!s) return;
    setCell($('version'), 'version ' + s.version);
    setCell($('generation'), s.generation);
    setCell($('uptime'), fmtDuration(s.uptime_seconds));
    const n = (count, noun) => `${count} ${noun}${count === 1 ? '' : 's'}`;
    setCell($('counts'), [n(s.listeners.length, 'listener'), n(s.routes, 'route'),
      n(s.backends, 'backend'), n(s.servers, 'server'), n(s.workers, 'worker')].join(', '));
    const reload = $('reload');
    const messages = [];
    if (!s.last_reload) {
      setCell(reload, 'none since start', '');
    } else {
      const r = s.last_reload;
      const ago = fmtDuration(s.now - r.at);
      const when = new Date(r.at * 1000).toLocaleString();
      setCell(reload, `${r.result} ${ago} ago (${when}), from ${r.origin}` +
        (r.summary ? `: ${r.summary}` : ''), r.result === 'applied' ? 'good' : 'bad');
      messages.push(...r.messages);
    }
    syncRows($('reload-messages'), messages.map((m, i) => [i, m]), (m) => m[0] + SEP + m[1],
      (m) => el('li', {}, m[1]), () => {});
  }

  function renderListeners() {
    const s = state.status;
    if (!s) return;
    const conns = state.stats.connections;
    syncRows($('listeners').tBodies[0], s.listeners, (l) => l.name,
      (l) => el('tr', {'data-listener': l.name}, ...cells(7, 3)),
      (row, l) => {
        const td = row.children;
        setCell(td[0], l.name);
        setCell(td[1], l.listen);
        setCell(td[2], l.protocol + (l.tls ? ' + TLS' : '') + (l.h2 ? ', h2' : ''));
        trafficCells(row, 3, state.stats.byListener && state.stats.byListener.get(l.name), false);
        const count = (st) => (conns && conns.has(l.name + SEP + st) ?
          conns.get(l.name + SEP + st) : DASH);
        setCell(td[5], count('active'));
        setCell(td[6], count('idle'));
      });
  }

  function serversOf(backends) {
    const out = [];
    for (const b of backends) for (const s of b.servers) out.push({backend: b.name, ...s});
    return out;
  }

  function renderBackends() {
    const data = state.backends;
    if (!data) return;
    syncRows($('backends').tBodies[0], data.backends, (b) => b.name,
      (b) => el('tr', {'data-backend': b.name}, ...cells(7, 2)),
      (row, b) => {
        const td = row.children;
        setCell(td[0], b.name);
        setCell(td[1], b.balance);
        const up = b.servers.filter((s) => s.health === 'up').length;
        setCell(td[2], `${up}/${b.servers.length}`, up < b.servers.length ? 'num bad' : 'num');
        const t = state.stats.byBackend && state.stats.byBackend.get(b.name);
        trafficCells(row, 3, t, false);
        const lat = state.stats.backendLatency && state.stats.backendLatency.get(b.name);
        setCell(td[5], state.stats.ready && lat ? fmtSeconds(lat.p50) : DASH);
        setCell(td[6], state.stats.ready && lat ? fmtSeconds(lat.p95) : DASH);
      });

    syncRows($('servers').tBodies[0], serversOf(data.backends), (s) => s.backend + SEP + s.address,
      (s) => {
        const row = el('tr', {'data-backend': s.backend, 'data-server': s.address},
          ...cells(9, 4));
        const drain = el('button', {type: 'button', class: 'drain'}, 'Drain');
        const enable = el('button', {type: 'button', class: 'enable'}, 'Enable');
        drain.addEventListener('click', () => setServerState(s.backend, s.address, 'drain'));
        enable.addEventListener('click', () => setServerState(s.backend, s.address, 'enable'));
        row.append(el('td', {}, drain, enable));
        return row;
      },
      (row, s) => {
        const td = row.children;
        setCell(td[0], s.backend);
        setCell(td[1], s.address + (s.backup ? ' (backup)' : ''));
        setCell(td[2], s.health, 'health ' + (s.health === 'up' ? 'good' : 'bad'));
        setCell(td[3], s.admin_state, 'admin-state ' + (s.admin_state === 'enabled' ? '' : 'warn'));
        setCell(td[4], s.weight);
        setCell(td[5], s.in_flight);
        const key = s.backend + SEP + s.address;
        trafficCells(row, 6, state.stats.byServer && state.stats.byServer.get(key),
          state.stats.serverLatency && state.stats.serverLatency.get(key));
      });
  }

  function describeMatch(r) {
    if (r.path_kind === 'any') return 'any path';
    const kinds = {prefix: '', exact: '= ', regex: '~ '};
    return kinds[r.path_kind] + r.path;
  }

  function renderRoutes() {
    const rs = state.routes;
    syncRows($('routes').tBodies[0], rs.items, (r) => r.name,
      (r) => el('tr', {'data-route': r.name}, ...cells(9, 6)),
      (row, r) => {
        const td = row.children;
        setCell(td[0], r.name);
        setCell(td[1], r.listeners.join(', '));
        setCell(td[2], r.host || 'any host');
        setCell(td[3], describeMatch(r));
        setCell(td[4], r.methods.length ? r.methods.join(' ') : 'any');
        setCell(td[5], r.action === 'backend' ? '→ ' + r.backend : `${r.action} ${r.status}`);
        trafficCells(row, 6, state.stats.byRoute && state.stats.byRoute.get(r.name),
          state.stats.routeLatency && state.stats.routeLatency.get(r.name));
      });
    setCell($('route-count'), rs.query ?
      `${rs.matched} of ${rs.total} routes match` :
      `${rs.total} routes` + (rs.items.length < rs.total ? `, first ${rs.items.length} shown` : ''));
    $('routes-more').hidden = rs.items.length >= rs.matched;

    const top = [...(state.stats.byRoute || new Map())]
      .filter(([, t]) => t.rate > 0)
      .sort((a, b) => b[1].rate - a[1].rate)
      .slice(0, 10);
    syncRows($('top-routes').tBodies[0], top, (t) => t[0],
      (t) => el('tr', {'data-route': t[0]}, ...cells(5, 1)),
      (row, [name, t]) => {
        const td = row.children;
        setCell(td[0], name);
        trafficCells(row, 1, t, false);
        const lat = state.stats.routeLatency && state.stats.routeLatency.get(name);
        setCell(td[3], lat ? fmtSeconds(lat.p50) : DASH);
        setCell(td[4], lat ? fmtSeconds(lat.p95) : DASH);
      });
  }

  function renderNotices() {
    const notes = [];
    if (state.metricsError) {
      notes.push(`No metrics (${state.metricsError}): rates, errors and latency are not shown.`);
    } else if (state.stats.missing && state.stats.missing.length) {
      notes.push('Not in /metrics: ' + state.stats.missing.join(', ') + '.');
    }
    setCell($('notices'), notes.join(' '));
  }

  function render() {
    renderOverview();
    renderListeners();
    renderBackends();
    renderRoutes();
    renderNotices();
  }

  function setLink(ok, text) {
    setCell($('link'), text, 'badge ' + (ok ? 'good' : 'bad'));
  }

  // ---- polling -----------------------------------------------------------

  async function pollMetrics() {
    try {
      const text = await call('/metrics');
      state.previous = state.scrape;
      state.scrape = {at: performance.now(), samples: parseMetrics(text)};
      state.metricsError = '';
    } catch (e) {
      state.previous = state.scrape = null;
      state.metricsError = e.status ? `/metrics answered ${e.status}` : 'cannot read /metrics';
    }
    computeStats();
  }

  async function poll() {
    const results = await Promise.allSettled([
      getJson('/status').then((s) => { state.status = s; }),
      getJson('/backends').then((b) => { state.backends = b; }),
      pollMetrics(),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) setLink(false, 'admin listener: ' + failed.reason.message);
    else setLink(true, 'live');
    render();
    setCell($('updated'), new Date().toLocaleTimeString());
  }

  async function pollForever() {
    try {
      await poll();
    } finally {
      setTimeout(pollForever, POLL_MS);
    }
  }

  // ---- routes ------------------------------------------------------------

  async function loadRoutes(append) {
    const rs = state.routes;
    const seq = ++rs.seq;
    const offset = append ? rs.items.length : 0;
    const query = $('route-search').value.trim();
    try {
      const page = await getJson('/routes?search=' + encodeURIComponent(query) +
        `&offset=${offset}&limit=${ROUTE_PAGE}`);
      if (seq !== rs.seq) return;  // a newer search answered first
      rs.query = query;
      rs.items = append ? rs.items.concat(page.routes) : page.routes;
      rs.matched = page.matched;
      rs.total = page.total;
      renderRoutes();
    } catch (e) {
      if (seq === rs.seq) setCell($('route-count'), 'search failed: ' + e.message, 'bad');
    }
  }

  let searchTimer = 0;
  $('route-search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => loadRoutes(false), 150);
  });
  $('routes-more').addEventListener('click', () => loadRoutes(true));

  // ---- drain and enable --------------------------------------------------

  async function setServerState(backend, address, action) {
    const out = $('action-result');
    const what = `backend '${backend}' server ${address}`;
    setCell(out, `${action}: ${what}…`, '');
    try {
      const path = `/backends/${encodeURIComponent(backend)}/servers/` +
        `${encodeURIComponent(address)}/state`;
      const answer = JSON.parse(await call(path, {
        method: 'POST', body: action, headers: {'Content-Type': 'text/plain'},
      }));
      setCell(out, `${what}: now ${answer.admin_state}`, 'good');
    } catch (e) {
      const hint = e.status === 401 ? ' (type the admin token above)' : '';
      setCell(out, `${action} ${what} refused: ${e.message}${hint}`, 'bad');
    }
    // The server's new state at once, without waiting for the next poll
    // (a scrape of /metrics now would make a rate over a too short time).
    try {
      state.backends = await getJson('/backends');
      renderBackends();
    } catch (e) {
      setLink(false, 'admin listener: ' + e.message);
    }
  }

  function showTokenState() {
    setCell($('token-state'), token() ? 'token set for this tab' : 'no token');
  }
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const t = $('token').value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    $('token').value = '';
    showTokenState();
  });
  $('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showTokenState();
  });

  showTokenState();
  loadRoutes(false);
  pollForever();
})();
