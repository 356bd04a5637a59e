#include "admin/route_explain.h"

#include <fmt/format.h>
#include <array>
#include <charconv>
#include <optional>

#include "admin/query.h"
#include "admin/route_json.h"
#include "http/message.h"
#include "http/parser.h"
#include "http/token.h"
#include "proxy/request_routing.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"

namespace sluice::admin {
namespace {

using route::Route;

AdminResponse bad(std::string why) {
  return {400, "text/plain",
          why +
              "\nuse GET /routes/explain?host=H&path=P[&method=M][&listener=L][&h.NAME=V]"
              "[&limit=N] (docs/operations.md)\n"};
}

// A value for the error message: the operator's own bytes, kept short and
// printable.
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  return s.size() > 80 ? out + "..." : out;
}

// RFC 9112 §3.2: a request target is visible ASCII; anything else is
// %-escaped by the client.
bool target_bytes(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

bool field_value(std::string_view s) {
  for (const char c : s) {
    if (!http::is_field_value_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::optional<AdminResponse> take(ExplainQuery& q, const std::string& name, std::string value,
                                  std::array<bool, 5>& seen) {
  constexpr std::array<std::string_view, 5> kNames = {"host", "path", "method", "listener",
                                                      "limit"};
  if (name.starts_with("h.")) {
    const std::string field = name.substr(2);
    if (!http::is_token(field)) return bad("h." + shown(field) + ": not a field name");
    if (!field_value(value)) return bad("h." + field + ": a control byte in its value");
    q.fields.emplace_back(field, std::move(value));
    return std::nullopt;
  }
  std::size_t which = kNames.size();
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) which = i;
  }
  if (which == kNames.size()) return bad("unknown parameter '" + shown(name) + "'");
  if (seen[which]) return bad("'" + name + "' is given twice");
  seen[which] = true;
  switch (which) {
    case 0:
      if (!http::is_authority(value)) {
        return bad("host=" + shown(value) + ": not a host[:port] a Host field may carry");
      }
      q.host = std::move(value);
      break;
    case 1:
      if (value.empty() || value.front() != '/' || !target_bytes(value)) {
        return bad("path=" + shown(value) +
                   ": not an origin-form target (it starts with '/', and a space, control or "
                   "non-ASCII byte is %-escaped)");
      }
      q.target = std::move(value);
      break;
    case 2:
      if (!http::is_token(value)) return bad("method=" + shown(value) + ": not a method");
      q.method = std::move(value);
      break;
    case 3:
      q.listener = std::move(value);
      break;
    default: {
      std::size_t limit = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc{} || end != value.data() + value.size() ||
          limit > ExplainQuery::kMaxLimit) {
        return bad("limit=" + shown(value) + ": not a number from 0 to 100");
      }
      q.limit = limit;
    }
  }
  return std::nullopt;
}

std::string names_json(const std::vector<std::string>& names) {
  std::string out = "[";
  for (std::size_t i = 0; i < names.size(); ++i)
    out += (i ? ", " : "") + json_string(names[i]);
  return out + "]";
}

std::string route_json(const Route& r) {
  std::vector<std::string> headers;
  for (const auto& h : r.headers)
    headers.push_back(h.name);
  std::vector<std::string> query;
  for (const auto& c : r.query)
    query.push_back(c.name);
  const std::string action = route_action_json(r);
  return fmt::format(
      "{{\"name\": {}, \"rank\": {}, \"priority\": {}, \"host\": {}, \"path_rule\": \"{}\", "
      "\"path\": {}, \"methods\": {}, \"headers\": {}, \"query\": {}, {}}}",
      json_string(r.name), r.rank, r.priority, json_string(r.host), path_kind_name(r.path_kind),
      json_string(r.path), names_json(r.methods), names_json(headers), names_json(query), action);
}

std::string host_rule(const Route& r) {
  if (r.host.empty()) return "any host";
  return r.host[0] == '*' ? "a host under " + r.host : "host " + r.host;
}

std::string path_rule(const Route& r) {
  switch (r.path_kind) {
    case Route::PathKind::exact:
      return "exactly " + r.path;
    case Route::PathKind::prefix:
      return "prefix " + r.path;
    case Route::PathKind::regex:
      return "regex " + r.path;
    case Route::PathKind::any:
      break;
  }
  return r.path.empty() ? "any path" : "an invalid regex";
}

// The checks `v` failed, in the router's order, or why it lost anyway.
std::vector<std::string> reasons(const route::RouteVerdict& v, const route::RequestView& req,
                                 const Route* winner) {
  const Route& r = *v.route;
  std::vector<std::string> out;
  if (!v.host) out.push_back("host: " + std::string(req.host) + " is not " + host_rule(r));
  if (!v.path) out.push_back("path: " + std::string(req.path) + " does not match " + path_rule(r));
  if (!v.internal) out.push_back("internal: only X-Accel-Redirect lookups reach it");
  if (!v.method) {
    std::string methods;
    for (const auto& m : r.methods)
      methods += (methods.empty() ? "" : ", ") + m;
    out.push_back("method: " + std::string(req.method) + " is not one of " + methods);
  }
  if (v.header != nullptr) {
    const auto& h = *v.header;
    out.push_back(h.kind == route::HeaderCondition::Kind::present
                      ? "header: no " + h.name + " field"
                  : h.kind == route::HeaderCondition::Kind::exact
                      ? "header: no " + h.name + " field equal to " + h.value
                      : "header: no " + h.name + " field matching " + h.value);
  }
  if (v.query != nullptr) {
    const auto& q = *v.query;
    out.push_back(q.present_only ? "query: no parameter " + q.name
                                 : "query: no parameter " + q.name + "=" + q.value);
  }
  if (out.empty() && winner != nullptr) {
    out.push_back(winner->priority != r.priority
                      ? fmt::format("rank: it matches too, but route '{}' has priority {} > {}",
                                    winner->name, winner->priority, r.priority)
                      : fmt::format("rank: it matches too, but route '{}' ranks higher (a more "
                                    "specific host or path, or earlier in the file)",
                                    winner->name));
  }
  return out;
}

std::string request_json(const ExplainQuery& q, const proxy::ListenerSettings& listener,
                         const route::RequestView& view) {
  return fmt::format(
      "{{\"listener\": {}, \"method\": {}, \"host\": {}, \"target\": {}, \"routed_host\": {}, "
      "\"normalized_path\": {}, \"query\": {}}}",
      json_string(listener.name), json_string(q.method), json_string(q.host), json_string(q.target),
      json_string(view.host), json_string(view.path), json_string(view.query));
}

const proxy::ListenerSettings* find_listener(const proxy::Snapshot& snap, const std::string& name) {
  for (const auto& l : snap.listeners) {
    if (l->http && (name.empty() || l->name == name)) return l.get();
  }
  return nullptr;
}

}  // namespace

std::variant<ExplainQuery, AdminResponse> parse_explain_query(std::string_view target) {
  const auto q = target.find('?');
  std::string_view rest = q == std::string_view::npos ? "" : target.substr(q + 1);
  ExplainQuery query;
  std::array<bool, 5> seen{};
  std::string name;
  std::string value;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (!form_decode(pair.substr(0, eq), name) ||
        !form_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), value)) {
      return bad("malformed %-escape in " + shown(pair));
    }
    if (auto refused = take(query, name, value, seen)) return *refused;
  }
  if (query.host.empty()) return bad("host= is required");
  if (query.target.empty()) return bad("path= is required");
  return query;
}

AdminResponse explain(const ExplainQuery& q, const proxy::Snapshot& snap) {
  const proxy::ListenerSettings* listener = find_listener(snap, q.listener);
  if (listener == nullptr) {
    std::string names;
    for (const auto& l : snap.listeners) {
      if (l->http) names += (names.empty() ? "" : ", ") + l->name;
    }
    return bad(q.listener.empty()
                   ? "the configuration has no HTTP listener"
                   : "no HTTP listener '" + shown(q.listener) + "'; HTTP listeners: " + names);
  }
  // The request as a client's would be: its target normalised and its
  // host taken by the proxy's own rules.
  std::vector<http::HeaderField> fields;
  for (const auto& [name, value] : q.fields)
    fields.push_back({name, value});
  http::RequestHead head;
  head.method_text = q.method;
  head.method = http::method_from(q.method);
  head.target = q.target;
  head.host = q.host;
  head.fields = fields;
  proxy::RequestTarget t;
  const route::PathError refused = proxy::resolve_target(head, *listener, t);
  std::array<char, 256> host_lower;
  t.view.listener = listener->index;
  t.view.host = proxy::routing_host(head.host, host_lower);
  t.view.method = head.method_text;
  t.view.fields = head.fields;
  std::string body = fmt::format("{{\"generation\": {},\n", snap.generation);
  if (const route::PathError e = refused; e != route::PathError::none) {
    return {200, "application/json",
            body + fmt::format(" \"request\": {},\n \"matched\": false, \"status\": 400, "
                               "\"refused\": {}\n}}\n",
                               request_json(q, *listener, t.view), json_string(describe(e)))};
  }
  const route::Explanation e = snap.routes->explain(t.view, q.limit);
  body += " \"request\": " + request_json(q, *listener, t.view) + ",\n";
  if (e.winner != nullptr) {
    body +=
        " \"matched\": true, \"status\": null,\n \"route\": " + route_json(*e.winner) +
        ",\n \"why\": [" +
        json_string("host: " + std::string(t.view.host) + " matches " + host_rule(*e.winner)) +
        ", " +
        json_string("path: " + std::string(t.view.path) + " matches " + path_rule(*e.winner)) +
        ", " + json_string("conditions: its methods, headers and query all hold") + ", " +
        json_string(fmt::format("rank: first of the {} routes that match", e.lost.outranked + 1)) +
        "],\n";
  } else {
    body += " \"matched\": false, \"status\": 404, \"route\": null,\n";
  }
  if (!e.consistent) {
    body += " \"warning\": \"the route index and the checks disagree: please report it\",\n";
  }
  body += fmt::format(
      " \"considered\": {},\n \"lost_on\": {{\"host\": {}, \"path\": {}, \"internal\": {}, "
      "\"method\": {}, \"header\": {}, \"query\": {}, \"rank\": {}}},\n \"near_misses\": [",
      e.considered, e.lost.host, e.lost.path, e.lost.internal, e.lost.method, e.lost.header,
      e.lost.query, e.lost.outranked);
  for (std::size_t i = 0; i < e.near_misses.size(); ++i) {
    const auto& v = e.near_misses[i];
    body += (i ? ",\n  " : "\n  ") + std::string("{\"route\": ") + route_json(*v.route) +
            ", \"lost_on\": " + names_json(reasons(v, t.view, e.winner)) + "}";
  }
  body += fmt::format("{}],\n \"more_near_misses\": {}\n}}\n", e.near_misses.empty() ? "" : "\n ",
                      e.more);
  return {200, "application/json", std::move(body)};
}

AdminResponse explain_route(std::string_view target, proxy::Server& server) {
  auto query = parse_explain_query(target);
  if (auto* refused = std::get_if<AdminResponse>(&query)) return std::move(*refused);
  const std::shared_ptr<const proxy::Snapshot> snap = server.snapshot();
  return explain(std::get<ExplainQuery>(query), *snap);
}

}  // namespace sluice::admin
