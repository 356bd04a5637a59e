#include "proxy/request_routing.h"

#include <array>

#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

// Path and query of an origin-form or absolute-form target (RFC 9112
// §3.2); false for the asterisk and authority forms. `rest` is the target
// from its '?' on (empty without one), as received.
bool split_target(std::string_view target, std::string_view& path, std::string_view& rest) {
  if (target.empty()) return false;
  if (target.front() == '?') {  // the parser's origin form of "http://h?q"
    path = "/";
    rest = target;
    return true;
  }
  if (target.front() != '/') {
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return false;
    // RFC 3986 §3.2: the authority ends at '/', '?' or the end.
    const auto end = target.find_first_of("/?", scheme_end + 3);
    if (end == std::string_view::npos || target[end] == '?') {
      path = "/";
      rest = end == std::string_view::npos ? std::string_view() : target.substr(end);
      return true;
    }
    target = target.substr(end);
  }
  const auto q = target.find('?');
  path = target.substr(0, q);
  rest = q == std::string_view::npos ? std::string_view() : target.substr(q);
  return true;
}

}  // namespace

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

// The target as routed and forwarded: its path normalised; when that
// differs from the received path in any byte, a target rebuilt from it.
route::PathError resolve_target(const http::RequestHead& head, const ListenerSettings& listener,
                                RequestTarget& t) {
  t.view = route::RequestView{};
  t.target = head.target;
  std::string_view rest;  // '?' and query, as received
  if (!split_target(head.target, t.view.path, rest)) t.view.path = head.target;
  t.view.query = rest.empty() ? rest : rest.substr(1);
  t.path_options.keep_escaped_slashes = listener.keep_escaped_slashes;
  if (t.view.path.empty() || t.view.path.front() != '/') return route::PathError::none;
  // Most paths are in normal form already: routed as received, no copy.
  if (route::is_normal_path(t.view.path)) {
    if (t.view.path.data() != head.target.data()) {  // absolute-form: rebuilt
      t.forwarded.assign(t.view.path).append(rest);
      t.target = t.forwarded;
    }
    return route::PathError::none;
  }
  if (const route::PathError e = route::normalize_path(t.view.path, t.normalized, t.path_options);
      e != route::PathError::none) {
    return e;
  }
  // Issue 13: the backend gets exactly the path that was routed. A target
  // that differs from it in any byte (an absolute-form target always does)
  // is rebuilt from it; the query goes on unchanged.
  if (t.view.path.data() != head.target.data() || t.view.path != t.normalized) {
    t.forwarded.assign(t.normalized).append(rest);
    t.target = t.forwarded;
  }
  t.view.path = t.normalized;
  return route::PathError::none;
}

std::string_view routing_host(std::string_view host, std::array<char, 256>& lower) {
  host = strip_port(host);
  // RFC 3986 §6.2.2.1 and DNS: host names compare case-insensitively, and
  // "a.example." is the fully qualified "a.example".
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > lower.size()) return host;
  for (std::size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  return std::string_view(lower.data(), host.size());
}

// Routing uses the configuration in force now, without holding it: the
// request keeps only its route and backend (reference-counted).
std::shared_ptr<const route::Route> find_route(const Snapshot& now, std::size_t slot,
                                               const http::RequestHead& head,
                                               route::RequestView& view, route::Captures& captures,
                                               std::shared_ptr<const Backend>& backend) {
  std::array<char, 256> host_lower;
  const std::string_view host = routing_host(head.host, host_lower);
  view.listener = now.in_slot(slot)->index;  // present: checked by the caller
  view.host = host;
  view.method = head.method_text;
  view.fields = head.fields;
  const route::Route* r = now.routes->match(view, &captures);
  view.host = {};  // pointed into this frame
  if (r == nullptr) return nullptr;
  if (r->action == route::ActionKind::backend) backend = now.backends[r->backend_index];
  return now.routes->pin(*r);
}

// A backend route's rewrite of the target. False: it gives an invalid one.
bool apply_rewrite(const route::Route& route, const route::Captures& captures, RequestTarget& t) {
  if (!route.has_rewrite() ||
      (route.rewrite().path.empty() && route.rewrite().strip_prefix.empty() &&
       route.rewrite().add_prefix.empty())) {
    return true;
  }
  // Reads the normalised path and the query, writes `forwarded`.
  if (!route::rewrite_target(route.rewrite(), t.view.path, t.view.query, captures, t.path_options,
                             t.forwarded)) {
    return false;
  }
  t.target = t.forwarded;
  return true;
}

}  // namespace sluice::proxy
