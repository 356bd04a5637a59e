// The YAML walk: every block checks its keys (unknown ones are errors with a
// suggestion), converts each value with a message naming what was expected,
// and keeps going so that one run reports every error in the file.
#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>

#include "config/model.h"
#include "config/suggest.h"
#include "config/units.h"
#include "config/validate.h"

namespace sluice::config {

std::string Diagnostic::to_string() const {
  std::string out = file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                    (severity == Severity::error ? "error: " : "warning: ") + message;
  return out;
}

const Backend* Config::find_backend(const std::string& backend_name) const {
  for (const auto& b : backends) {
    if (b.name == backend_name) return &b;
  }
  return nullptr;
}

namespace {

using Keys = std::initializer_list<std::string_view>;

class Walker {
 public:
  Walker(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  void error(const YAML::Node& at, const std::string& message) {
    report(at ? at.Mark() : YAML::Mark::null_mark(), message);
  }
  void report(const YAML::Mark& m, const std::string& message) {
    const int line = m.is_null() ? 0 : m.line + 1;
    const int column = m.is_null() ? 0 : m.column + 1;
    out_.push_back(Diagnostic{file_, line, column, Severity::error, message});
  }

  // A block must be a map; its keys must be among `allowed`, each once.
  bool map_with_keys(const YAML::Node& node, std::string_view block, Keys allowed) {
    if (!node.IsMap()) {
      error(node, std::string(block) + ": expected a map of settings");
      return false;
    }
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>("");
      if (!seen.insert(key).second) {
        error(kv.first, std::string(block) + ": key '" + key + "' appears twice");
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string msg = std::string(block) + ": unknown key '" + key + "'";
        const std::string hint = suggest(key, allowed);
        msg += hint.empty() ? " (expected one of: " + join(allowed) + ")"
                            : " (did you mean '" + hint + "'?)";
        error(kv.first, msg);
      }
    }
    return true;
  }

  static std::string join(Keys keys) {
    std::string s;
    for (auto k : keys) {
      if (!s.empty()) s += ", ";
      s += k;
    }
    return s;
  }

  bool scalar(const YAML::Node& n, std::string_view what, std::string& out) {
    if (!n.IsScalar()) {
      error(n, std::string(what) + ": expected a single value");
      return false;
    }
    out = n.Scalar();
    return true;
  }

  void string_field(const YAML::Node& map, const char* key, std::string_view block,
                    std::string& out, bool required = false) {
    const YAML::Node n = map[key];
    if (!n) {
      if (required) error(map, std::string(block) + ": missing required key '" + key + "'");
      return;
    }
    std::string v;
    if (!scalar(n, std::string(block) + "." + key, v)) return;
    if (v.empty()) {
      error(n, std::string(block) + "." + key + ": must not be empty");
      return;
    }
    out = v;
  }

  void opt_string(const YAML::Node& map, const char* key, std::string_view block,
                  std::optional<std::string>& out) {
    std::string v;
    if (!map[key]) return;
    string_field(map, key, block, v);
    if (!v.empty()) out = v;
  }

  void bool_field(const YAML::Node& map, const char* key, std::string_view block, bool& out) {
    const YAML::Node n = map[key];
    if (!n) return;
    std::string v;
    if (!scalar(n, std::string(block) + "." + key, v)) return;
    if (v == "true" || v == "yes" || v == "on") {
      out = true;
    } else if (v == "false" || v == "no" || v == "off") {
      out = false;
    } else {
      error(n, std::string(block) + "." + key + ": expected true or false, got '" + v + "'");
    }
  }

  template <typename Int>
  bool int_value(const YAML::Node& n, std::string_view what, long long lo, long long hi, Int& out) {
    std::string v;
    if (!scalar(n, what, v)) return false;
    long long x = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc{} || end != v.data() + v.size() || x < lo || x > hi) {
      error(n, std::string(what) + ": expected a whole number from " + std::to_string(lo) + " to " +
                   std::to_string(hi) + ", got '" + v + "'");
      return false;
    }
    out = static_cast<Int>(x);
    return true;
  }

  template <typename Int>
  void int_field(const YAML::Node& map, const char* key, std::string_view block, long long lo,
                 long long hi, Int& out) {
    const YAML::Node n = map[key];
    if (n) int_value(n, std::string(block) + "." + key, lo, hi, out);
  }

  template <typename Int>
  void opt_int(const YAML::Node& map, const char* key, std::string_view block, long long lo,
               long long hi, std::optional<Int>& out) {
    const YAML::Node n = map[key];
    Int v{};
    if (n && int_value(n, std::string(block) + "." + key, lo, hi, v)) out = v;
  }

  bool duration_value(const YAML::Node& n, std::string_view what, Duration& out) {
    std::string v;
    if (!scalar(n, what, v)) return false;
    auto d = parse_duration(v);
    if (!d) {
      error(n,
            std::string(what) + ": expected a duration such as 250ms, 3s or 5m, got '" + v + "'");
      return false;
    }
    out = *d;
    return true;
  }

  void duration_field(const YAML::Node& map, const char* key, std::string_view block,
                      Duration& out) {
    const YAML::Node n = map[key];
    if (n) duration_value(n, std::string(block) + "." + key, out);
  }

  bool size_value(const YAML::Node& n, std::string_view what, std::uint64_t& out) {
    std::string v;
    if (!scalar(n, what, v)) return false;
    auto s = parse_size(v);
    if (!s) {
      error(n, std::string(what) + ": expected a size such as 512, 16KiB or 1MiB, got '" + v + "'");
      return false;
    }
    out = *s;
    return true;
  }

  void size_field(const YAML::Node& map, const char* key, std::string_view block,
                  std::uint64_t& out) {
    const YAML::Node n = map[key];
    if (n) size_value(n, std::string(block) + "." + key, out);
  }

  void choice_field(const YAML::Node& map, const char* key, std::string_view block, Keys choices,
                    std::string& out) {
    const YAML::Node n = map[key];
    if (!n) return;
    std::string v;
    if (!scalar(n, std::string(block) + "." + key, v)) return;
    if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
      const std::string hint = suggest(v, choices);
      error(n, std::string(block) + "." + key + ": expected one of " + join(choices) + ", got '" +
                   v + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
      return;
    }
    out = v;
  }

  void string_list(const YAML::Node& map, const char* key, std::string_view block,
                   std::vector<std::string>& out) {
    const YAML::Node n = map[key];
    if (!n) return;
    if (!n.IsSequence()) {
      error(n, std::string(block) + "." + key + ": expected a list");
      return;
    }
    for (const auto& item : n) {
      std::string v;
      if (scalar(item, std::string(block) + "." + key, v)) out.push_back(v);
    }
  }

  static SourceLocation where(const YAML::Node& n) {
    if (!n) return {};  // a missing key: no position
    const auto m = n.Mark();
    return m.is_null() ? SourceLocation{} : SourceLocation{m.line + 1, m.column + 1};
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<Diagnostic>& out_;
};

void load_listener(Walker& w, const YAML::Node& n, Listener& l) {
  l.where = Walker::where(n);
  if (!w.map_with_keys(n, "listener",
                       {"name", "listen", "protocol", "backend", "timeouts", "max_header_size",
                        "max_request_line", "max_header_count", "max_body_size",
                        "keep_alive_header", "proxy_protocol", "tls"})) {
    return;
  }
  w.string_field(n, "name", "listener", l.name, true);
  l.name_where = Walker::where(n["name"]);
  l.listen_where = Walker::where(n["listen"]);
  l.backend_where = Walker::where(n["backend"]);
  const std::string block = l.name.empty() ? "listener" : "listener '" + l.name + "'";
  w.string_field(n, "listen", block, l.listen, true);
  std::string protocol = "http";
  w.choice_field(n, "protocol", block, {"http", "tcp"}, protocol);
  l.protocol = protocol == "tcp" ? Protocol::tcp : Protocol::http;
  w.opt_string(n, "backend", block, l.backend);
  if (const auto t = n["timeouts"]) {
    if (w.map_with_keys(t, block + ".timeouts", {"header", "idle"})) {
      w.duration_field(t, "header", block + ".timeouts", l.timeouts.header);
      w.duration_field(t, "idle", block + ".timeouts", l.timeouts.idle);
    }
  }
  w.size_field(n, "max_header_size", block, l.max_header_size);
  w.size_field(n, "max_request_line", block, l.max_request_line);
  w.int_field(n, "max_header_count", block, 1, 1000, l.max_header_count);
  if (const auto b = n["max_body_size"]) {
    std::uint64_t v = 0;
    if (w.size_value(b, block + ".max_body_size", v)) l.max_body_size = v;
  }
  w.bool_field(n, "keep_alive_header", block, l.keep_alive_header);
  w.bool_field(n, "proxy_protocol", block, l.proxy_protocol);
  if (const auto tls = n["tls"]) {
    if (w.map_with_keys(tls, block + ".tls", {"certificates"})) {
      const auto certs = tls["certificates"];
      if (!certs || !certs.IsSequence() || certs.size() == 0) {
        w.error(tls, block + ".tls: expected 'certificates', a list of {cert, key}");
      } else {
        for (const auto& c : certs) {
          if (!w.map_with_keys(c, block + ".tls.certificates", {"cert", "key"})) continue;
          TlsCertificate tc;
          w.string_field(c, "cert", block + ".tls.certificates", tc.cert, true);
          w.string_field(c, "key", block + ".tls.certificates", tc.key, true);
          l.tls_certificates.push_back(tc);
        }
      }
    }
  }
}

void load_match(Walker& w, const YAML::Node& n, const std::string& block, RouteMatch& m) {
  if (!w.map_with_keys(
          n, block + ".match",
          {"host", "path", "path_exact", "path_regex", "methods", "headers", "query"})) {
    return;
  }
  const std::string mb = block + ".match";
  w.opt_string(n, "host", mb, m.host);
  w.opt_string(n, "path", mb, m.path);
  w.opt_string(n, "path_exact", mb, m.path_exact);
  w.opt_string(n, "path_regex", mb, m.path_regex);
  w.string_list(n, "methods", mb, m.methods);
  if (const auto h = n["headers"]) {
    if (!h.IsMap()) {
      w.error(h, mb + ".headers: expected a map of field name to value");
    } else {
      for (const auto& kv : h) {
        HeaderMatch hm;
        hm.name = kv.first.as<std::string>("");
        if (kv.second.IsScalar()) {
          hm.value = kv.second.Scalar();
        } else if (kv.second.IsMap() &&
                   w.map_with_keys(kv.second, mb + ".headers." + hm.name, {"regex", "present"})) {
          if (kv.second["regex"]) {
            hm.kind = HeaderMatch::Kind::regex;
            w.string_field(kv.second, "regex", mb + ".headers." + hm.name, hm.value, true);
          } else {
            hm.kind = HeaderMatch::Kind::present;
          }
        } else if (!kv.second.IsMap()) {
          w.error(kv.second, mb + ".headers." + hm.name +
                                 ": expected a value, {regex: ...} or {present: true}");
        }
        m.headers.push_back(hm);
      }
    }
  }
  if (const auto q = n["query"]) {
    if (!q.IsMap()) {
      w.error(q, mb + ".query: expected a map of parameter name to value");
    } else {
      for (const auto& kv : q) {
        QueryMatch qm;
        qm.name = kv.first.as<std::string>("");
        if (kv.second.IsScalar()) {
          qm.value = kv.second.Scalar();
        } else if (w.map_with_keys(kv.second, mb + ".query." + qm.name, {"present"})) {
          qm.present_only = true;
        }
        m.query.push_back(qm);
      }
    }
  }
}

void load_route(Walker& w, const YAML::Node& n, std::size_t index, Route& r) {
  r.where = Walker::where(n);
  r.name = "route-" + std::to_string(index + 1);
  if (!w.map_with_keys(n, "route " + std::to_string(index + 1),
                       {"name", "listeners", "priority", "match", "rewrite", "backend", "respond",
                        "redirect"})) {
    return;
  }
  w.string_field(n, "name", "route", r.name);
  r.name_where = n["name"] ? Walker::where(n["name"]) : r.where;
  r.backend_where = Walker::where(n["backend"]);
  r.listeners_where = Walker::where(n["listeners"]);
  r.match_where = n["match"] ? Walker::where(n["match"]) : r.where;
  const std::string block = "route '" + r.name + "'";
  w.string_list(n, "listeners", block, r.listeners);
  w.int_field(n, "priority", block, -1'000'000, 1'000'000, r.priority);
  if (const auto m = n["match"]) {
    load_match(w, m, block, r.match);
  } else {
    w.error(n, block + ": missing required key 'match' (use match: {path: /} to match everything)");
  }
  if (const auto rw = n["rewrite"]) {
    if (w.map_with_keys(rw, block + ".rewrite", {"path", "strip_prefix", "add_prefix", "host"})) {
      Rewrite x;
      w.opt_string(rw, "path", block + ".rewrite", x.path);
      w.opt_string(rw, "strip_prefix", block + ".rewrite", x.strip_prefix);
      w.opt_string(rw, "add_prefix", block + ".rewrite", x.add_prefix);
      w.opt_string(rw, "host", block + ".rewrite", x.host);
      r.rewrite = x;
    }
  }
  w.opt_string(n, "backend", block, r.backend);
  if (const auto rs = n["respond"]) {
    if (w.map_with_keys(rs, block + ".respond", {"status", "headers", "body"})) {
      Respond x;
      w.int_field(rs, "status", block + ".respond", 100, 599, x.status);
      if (const auto h = rs["headers"]) {
        if (!h.IsMap()) {
          w.error(h, block + ".respond.headers: expected a map of field name to value");
        } else {
          for (const auto& kv : h) {
            std::string v;
            if (w.scalar(kv.second, block + ".respond.headers", v)) {
              x.headers.emplace_back(kv.first.as<std::string>(""), v);
            }
          }
        }
      }
      if (const auto b = rs["body"]) w.scalar(b, block + ".respond.body", x.body);
      r.respond = x;
    }
  }
  if (const auto rd = n["redirect"]) {
    if (w.map_with_keys(rd, block + ".redirect",
                        {"status", "scheme", "host", "port", "path", "keep_query"})) {
      Redirect x;
      w.int_field(rd, "status", block + ".redirect", 301, 308, x.status);
      w.opt_string(rd, "scheme", block + ".redirect", x.scheme);
      w.opt_string(rd, "host", block + ".redirect", x.host);
      w.opt_int(rd, "port", block + ".redirect", 1, 65535, x.port);
      w.opt_string(rd, "path", block + ".redirect", x.path);
      w.bool_field(rd, "keep_query", block + ".redirect", x.keep_query);
      r.redirect = x;
    }
  }
}

void load_server(Walker& w, const YAML::Node& n, const std::string& block, Server& s) {
  s.address_where = Walker::where(n.IsMap() && n["address"] ? n["address"] : n);
  if (n.IsScalar()) {
    s.address = n.Scalar();
    return;
  }
  if (!w.map_with_keys(n, block + ".servers",
                       {"address", "weight", "max_connections", "send_proxy", "backup"})) {
    return;
  }
  w.string_field(n, "address", block + ".servers", s.address, true);
  w.int_field(n, "weight", block + ".servers", 1, 256, s.weight);
  w.opt_int(n, "max_connections", block + ".servers", 1, 1'000'000, s.max_connections);
  std::string sp = "none";
  w.choice_field(n, "send_proxy", block + ".servers", {"none", "v1", "v2"}, sp);
  s.send_proxy = sp == "v1" ? SendProxy::v1 : sp == "v2" ? SendProxy::v2 : SendProxy::none;
  w.bool_field(n, "backup", block + ".servers", s.backup);
}

void load_backend(Walker& w, const YAML::Node& key, const YAML::Node& n, Backend& b) {
  b.name = key.as<std::string>("");
  b.where = Walker::where(key);
  const std::string block = "backend '" + b.name + "'";
  if (!w.map_with_keys(n, block,
                       {"balance", "hash", "sticky", "servers", "queue", "pool", "tcp_keepalive",
                        "timeouts", "retries", "health_check"})) {
    return;
  }
  w.choice_field(n, "balance", block, {"round_robin", "least_conn", "random", "p2c", "hash"},
                 b.balance);
  if (const auto h = n["hash"]) {
    if (w.map_with_keys(h, block + ".hash", {"key", "name"})) {
      w.choice_field(h, "key", block + ".hash", {"source_ip", "header", "cookie", "path"},
                     b.hash_key);
      w.string_field(h, "name", block + ".hash", b.hash_name,
                     b.hash_key == "header" || b.hash_key == "cookie");
    }
  }
  if (const auto s = n["sticky"]) {
    if (w.map_with_keys(s, block + ".sticky", {"cookie"})) {
      w.opt_string(s, "cookie", block + ".sticky", b.sticky_cookie);
    }
  }
  const auto servers = n["servers"];
  if (!servers) {
    w.error(n, block + ": missing required key 'servers'");
  } else if (!servers.IsSequence() || servers.size() == 0) {
    w.error(servers, block + ".servers: expected a non-empty list of servers");
  } else {
    for (const auto& sn : servers) {
      Server s;
      load_server(w, sn, block, s);
      if (!s.address.empty()) b.servers.push_back(s);
    }
  }
  if (const auto q = n["queue"]) {
    if (w.map_with_keys(q, block + ".queue", {"timeout", "max_size"})) {
      w.duration_field(q, "timeout", block + ".queue", b.queue_timeout);
      w.opt_int(q, "max_size", block + ".queue", 0, 1'000'000'000, b.queue_max_size);
    }
  }
  if (const auto p = n["pool"]) {
    if (w.map_with_keys(p, block + ".pool", {"max_idle_per_server", "idle_timeout", "reuse"})) {
      w.int_field(p, "max_idle_per_server", block + ".pool", 0, 100'000,
                  b.pool_max_idle_per_server);
      w.duration_field(p, "idle_timeout", block + ".pool", b.pool_idle_timeout);
      w.choice_field(p, "reuse", block + ".pool", {"never", "safe", "always"}, b.pool_reuse);
    }
  }
  w.bool_field(n, "tcp_keepalive", block, b.tcp_keepalive);
  if (const auto t = n["timeouts"]) {
    if (w.map_with_keys(t, block + ".timeouts", {"connect", "response", "idle"})) {
      w.duration_field(t, "connect", block + ".timeouts", b.connect_timeout);
      w.duration_field(t, "response", block + ".timeouts", b.response_timeout);
      w.duration_field(t, "idle", block + ".timeouts", b.idle_timeout);
    }
  }
  if (const auto r = n["retries"]) {
    if (w.map_with_keys(r, block + ".retries",
                        {"attempts", "per_try_timeout", "max_body", "budget", "idempotency_key"})) {
      w.int_field(r, "attempts", block + ".retries", 0, 10, b.retry_attempts);
      if (const auto pt = r["per_try_timeout"]) {
        Duration d{};
        if (w.duration_value(pt, block + ".retries.per_try_timeout", d))
          b.retry_per_try_timeout = d;
      }
      w.size_field(r, "max_body", block + ".retries", b.retry_max_body);
      w.int_field(r, "budget", block + ".retries", 0, 100, b.retry_budget_percent);
      w.bool_field(r, "idempotency_key", block + ".retries", b.retry_idempotency_key);
    }
  }
  if (const auto h = n["health_check"]) {
    if (w.map_with_keys(h, block + ".health_check",
                        {"type", "path", "expect_status", "interval", "timeout", "rise", "fall"})) {
      HealthCheck hc;
      const std::string hb = block + ".health_check";
      w.choice_field(h, "type", hb, {"http", "tcp"}, hc.type);
      w.string_field(h, "path", hb, hc.path, hc.type == "http");
      w.int_field(h, "expect_status", hb, 100, 599, hc.expect_status);
      w.duration_field(h, "interval", hb, hc.interval);
      w.duration_field(h, "timeout", hb, hc.timeout);
      w.int_field(h, "rise", hb, 1, 100, hc.rise);
      w.int_field(h, "fall", hb, 1, 100, hc.fall);
      b.health_check = hc;
    }
  }
}

void load_root(Walker& w, const YAML::Node& root, Config& c) {
  if (!w.map_with_keys(root, "configuration",
                       {"workers", "admin", "listeners", "routes", "backends", "forwarded",
                        "shutdown", "log", "watch"})) {
    return;
  }
  if (const auto n = root["workers"]) {
    if (!(n.IsScalar() && n.Scalar() == "auto")) {
      w.int_value(n, "workers", 1, 1024, c.workers);
    }
  }
  if (const auto a = root["admin"]) {
    if (w.map_with_keys(a, "admin", {"listen"})) {
      Admin admin;
      w.string_field(a, "listen", "admin", admin.listen, true);
      admin.listen_where = Walker::where(a["listen"] ? a["listen"] : a);
      c.admin = admin;
    }
  }
  const auto listeners = root["listeners"];
  if (!listeners) {
    w.error(root, "configuration: missing required key 'listeners'");
  } else if (!listeners.IsSequence()) {
    w.error(listeners, "listeners: expected a list of listeners");
  } else {
    for (const auto& n : listeners)
      load_listener(w, n, c.listeners.emplace_back());
  }
  if (const auto routes = root["routes"]) {
    if (!routes.IsSequence()) {
      w.error(routes, "routes: expected a list of routes");
    } else {
      std::size_t i = 0;
      for (const auto& n : routes)
        load_route(w, n, i++, c.routes.emplace_back());
    }
  }
  if (const auto backends = root["backends"]) {
    if (!backends.IsMap()) {
      w.error(backends, "backends: expected a map of backend name to settings");
    } else {
      std::set<std::string> names;
      for (const auto& kv : backends) {
        const std::string name = kv.first.as<std::string>("");
        if (!names.insert(name).second) {
          w.error(kv.first, "backends: backend '" + name + "' is defined twice");
          continue;
        }
        load_backend(w, kv.first, kv.second, c.backends.emplace_back());
      }
    }
  }
  if (const auto f = root["forwarded"]) {
    if (w.map_with_keys(f, "forwarded",
                        {"x_forwarded_for", "x_forwarded_proto", "x_forwarded_host", "except"})) {
      w.bool_field(f, "x_forwarded_for", "forwarded", c.forwarded.x_forwarded_for);
      w.bool_field(f, "x_forwarded_proto", "forwarded", c.forwarded.x_forwarded_proto);
      w.bool_field(f, "x_forwarded_host", "forwarded", c.forwarded.x_forwarded_host);
      w.string_list(f, "except", "forwarded", c.forwarded.except);
      c.forwarded.except_where = Walker::where(f["except"] ? f["except"] : f);
    }
  }
  if (const auto s = root["shutdown"]) {
    if (w.map_with_keys(s, "shutdown", {"grace"})) {
      w.duration_field(s, "grace", "shutdown", c.shutdown.grace);
    }
  }
  if (const auto l = root["log"]) {
    if (w.map_with_keys(l, "log", {"level", "access"})) {
      w.choice_field(l, "level", "log", {"trace", "debug", "info", "warn", "error"}, c.log.level);
      w.bool_field(l, "access", "log", c.log.access);
    }
  }
  w.bool_field(root, "watch", "configuration", c.watch);
}

}  // namespace

LoadResult load_string(std::string_view yaml, std::string_view file_name) {
  LoadResult result;
  auto config = std::make_shared<Config>();
  config->file = std::string(file_name);
  Walker w(config->file, result.diagnostics);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    w.report(e.mark, "invalid YAML: " + e.msg);
    return result;
  }
  try {
    if (!root || root.IsNull()) {
      result.diagnostics.push_back(Diagnostic{config->file, 1, 1, Severity::error,
                                              "the file is empty: expected at least 'listeners'"});
      return result;
    }
    load_root(w, root, *config);
  } catch (const YAML::Exception& e) {
    // Conversions above use defaults, so this is a malformed node we did not
    // foresee; report it rather than crash.
    w.report(e.mark, "invalid configuration: " + e.msg);
  }
  validate(*config, result.diagnostics);
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  const bool has_error =
      std::any_of(result.diagnostics.begin(), result.diagnostics.end(),
                  [](const Diagnostic& d) { return d.severity == Severity::error; });
  if (!has_error) result.config = std::move(config);
  return result;
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.diagnostics.push_back(
        Diagnostic{path, 0, 0, Severity::error, "cannot read the configuration file"});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path);
}

std::string summary(const Config& c) {
  std::size_t servers = 0;
  for (const auto& b : c.backends)
    servers += b.servers.size();
  auto plural = [](std::size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  return plural(c.listeners.size(), "listener") + ", " + plural(c.routes.size(), "route") + ", " +
         plural(c.backends.size(), "backend") + ", " + plural(servers, "server");
}

}  // namespace sluice::config
