#include "route/route_table.h"

#include <algorithm>
#include <cstdio>

#include "config/model.h"
#include "http/serializer.h"

namespace sluice::route {
namespace {

bool host_matches(const std::string& pattern, std::string_view host) {
  if (pattern.empty()) return true;
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    // "*.example.com" matches "a.example.com", not "example.com".
    const std::string_view suffix = std::string_view(pattern).substr(1);
    return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
  }
  return host == pattern;
}

// Specificity for ordering routes of equal priority: exact host over
// wildcard over any; exact path over longer prefix over shorter prefix.
int host_rank(const std::string& host) {
  if (host.empty()) return 0;
  return host[0] == '*' ? 1 : 2;
}

}  // namespace

PreparedResponse prepare_response(int status,
                                  const std::vector<std::pair<std::string, std::string>>& fields,
                                  std::string body) {
  PreparedResponse r;
  r.status = status;
  r.head = "HTTP/1.1 " + std::to_string(status) + " " + http::reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : fields)
    r.head += name + ": " + value + "\r\n";
  // RFC 9110 §8.6: no Content-Length in 1xx and 204 responses; a 304 would
  // describe the selected representation, which a fixed response has not.
  if (status >= 200 && status != 204 && status != 304) {
    r.head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  } else {
    body.clear();
  }
  r.body = std::move(body);
  return r;
}

std::shared_ptr<const RouteTable> RouteTable::build(const config::Config& config) {
  auto table = std::make_shared<RouteTable>();
  const std::size_t listener_count = config.listeners.size();
  for (const auto& rc : config.routes) {
    Route r;
    r.name = rc.name;
    r.priority = rc.priority;
    r.on_listener.assign(listener_count, rc.listeners.empty());
    for (const auto& name : rc.listeners) {
      for (std::size_t i = 0; i < listener_count; ++i) {
        if (config.listeners[i].name == name) r.on_listener[i] = true;
      }
    }
    if (rc.listeners.empty()) {
      // Default: every HTTP listener.
      for (std::size_t i = 0; i < listener_count; ++i) {
        r.on_listener[i] = config.listeners[i].protocol == config::Protocol::http;
      }
    }
    r.host = rc.match.host.value_or("");
    std::transform(r.host.begin(), r.host.end(), r.host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (rc.match.path_exact) {
      r.path_kind = Route::PathKind::exact;
      r.path = *rc.match.path_exact;
    } else if (rc.match.path) {
      r.path_kind = Route::PathKind::prefix;
      r.path = *rc.match.path;
    }
    r.methods = rc.match.methods;
    if (rc.respond) {
      r.action = ActionKind::respond;
      std::vector<std::pair<std::string, std::string>> fields(rc.respond->headers.begin(),
                                                              rc.respond->headers.end());
      r.respond = prepare_response(rc.respond->status, fields, rc.respond->body);
    } else if (rc.redirect) {
      r.action = ActionKind::redirect;
    } else {
      r.action = ActionKind::backend;
      r.backend = rc.backend.value_or("");
      for (std::size_t i = 0; i < config.backends.size(); ++i) {
        if (config.backends[i].name == r.backend) r.backend_index = i;
      }
    }
    table->routes_.push_back(std::move(r));
  }
  // Stable: equal keys keep file order.
  std::stable_sort(table->routes_.begin(), table->routes_.end(),
                   [](const Route& a, const Route& b) {
                     if (a.priority != b.priority) return a.priority > b.priority;
                     if (host_rank(a.host) != host_rank(b.host))
                       return host_rank(a.host) > host_rank(b.host);
                     const int ak = a.path_kind == Route::PathKind::exact ? 2 : 1;
                     const int bk = b.path_kind == Route::PathKind::exact ? 2 : 1;
                     if (ak != bk) return ak > bk;
                     return a.path.size() > b.path.size();
                   });
  return table;
}

const Route* RouteTable::match(std::size_t listener, std::string_view host, std::string_view path,
                               std::string_view method) const {
  for (const Route& r : routes_) {
    if (listener >= r.on_listener.size() || !r.on_listener[listener]) continue;
    if (!host_matches(r.host, host)) continue;
    if (r.path_kind == Route::PathKind::exact && path != r.path) continue;
    if (r.path_kind == Route::PathKind::prefix && path.substr(0, r.path.size()) != r.path) continue;
    if (!r.methods.empty() &&
        std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end()) {
      continue;
    }
    return &r;
  }
  return nullptr;
}

}  // namespace sluice::route
