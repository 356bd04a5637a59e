#include "config/validate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>

#include "config/address.h"
#include "config/model.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

class Reporter {
 public:
  Reporter(const Config& c, std::vector<Diagnostic>& out) : file_(c.file), out_(out) {}
  void error(SourceLocation at, std::string msg) {
    out_.push_back(Diagnostic{file_, at.line, at.column, Severity::error, std::move(msg)});
  }
  void warning(SourceLocation at, std::string msg) {
    out_.push_back(Diagnostic{file_, at.line, at.column, Severity::warning, std::move(msg)});
  }

 private:
  const std::string& file_;
  std::vector<Diagnostic>& out_;
};

std::string did_you_mean(const std::string& word, const std::vector<std::string>& known) {
  const std::string hint = suggest(word, known);
  return hint.empty() ? "" : " (did you mean " + quote(hint) + "?)";
}

// "*:80", ":80" and "0.0.0.0:80" bind the same socket; so do "[::1]:80" and
// "[0:0::1]:80". Returns "" for port 0 (each bind gets its own port) or
// anything unparsable (already reported while loading).
std::string bind_key(const std::string& listen) {
  HostPort hp;
  std::string why;
  if (!parse_address(listen, AddressUse::listen, hp, why) || hp.port == 0) return "";
  std::string host = hp.any_host ? "0.0.0.0" : hp.host;
  std::transform(host.begin(), host.end(), host.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  if (host.find(':') != std::string::npos) {
    // Canonical IPv6 text, so that equal addresses compare equal.
    unsigned char buf[16];
    char text[64];
    if (inet_pton(AF_INET6, host.c_str(), buf) == 1 &&
        inet_ntop(AF_INET6, buf, text, sizeof text) != nullptr) {
      host = text;
    }
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(hp.port);
}

void validate_listeners(const Config& c, Reporter& r) {
  std::vector<std::string> backend_names;
  for (const auto& b : c.backends)
    backend_names.push_back(b.name);
  std::map<std::string, int> names;      // name -> line of first use
  std::map<std::string, int> addresses;  // bind key -> line of first use
  if (c.admin) {
    if (const std::string key = bind_key(c.admin->listen); !key.empty()) {
      addresses.emplace(key, c.admin->listen_where.line);
    }
  }
  for (const auto& l : c.listeners) {
    if (l.name.empty()) continue;  // not loaded; already reported
    if (auto [it, fresh] = names.emplace(l.name, l.name_where.line); !fresh) {
      r.error(l.name_where, "listener name " + quote(l.name) + " is already used on line " +
                                std::to_string(it->second) + "; names must be unique");
    }
    const std::string who = "listener " + quote(l.name);
    if (const std::string key = bind_key(l.listen); !key.empty()) {
      if (auto [it, fresh] = addresses.emplace(key, l.listen_where.line); !fresh) {
        r.error(l.listen_where, who + ": address " + l.listen + " is already used on line " +
                                    std::to_string(it->second));
      }
    }
    if (l.protocol == Protocol::tcp && l.backend && !c.find_backend(*l.backend)) {
      r.error(l.backend_where, who + " refers to backend " + quote(*l.backend) +
                                   ", which is not defined" +
                                   did_you_mean(*l.backend, backend_names));
    }
    for (const auto& route : l.sni_routes) {
      if (c.find_backend(route.backend)) continue;
      r.error(route.backend_where, who + ": sni_routes: host " + quote(route.host) +
                                       " refers to backend " + quote(route.backend) +
                                       ", which is not defined" +
                                       did_you_mean(route.backend, backend_names));
    }
  }
}

void validate_routes(const Config& c, Reporter& r) {
  std::vector<std::string> backend_names;
  for (const auto& b : c.backends)
    backend_names.push_back(b.name);
  // Thousands of routes over hundreds of backends: looked up, not scanned.
  const std::unordered_set<std::string_view> backend_defined(backend_names.begin(),
                                                             backend_names.end());
  std::vector<std::string> listener_names;
  bool any_http = false;
  for (const auto& l : c.listeners) {
    listener_names.push_back(l.name);
    any_http = any_http || l.protocol == Protocol::http;
  }
  std::map<std::string, int> names;
  for (const auto& rt : c.routes) {
    if (auto [it, fresh] = names.emplace(rt.name, rt.name_where.line); !fresh) {
      r.error(rt.name_where, "route name " + quote(rt.name) + " is already used on line " +
                                 std::to_string(it->second) + "; names must be unique");
    }
    const std::string who = "route " + quote(rt.name);
    assert(rt.listeners_where.size() == rt.listeners.size());  // the loader fills both
    for (std::size_t i = 0; i < rt.listeners.size(); ++i) {
      const std::string& ln = rt.listeners[i];
      const SourceLocation at = rt.listeners_where[i];
      const Listener* found = c.find_listener(ln);
      if (!found) {
        r.error(at, who + " refers to listener " + quote(ln) + ", which is not defined" +
                        did_you_mean(ln, listener_names));
      } else if (found->protocol != Protocol::http) {
        r.error(at, who + ": listener " + quote(ln) +
                        " is a tcp listener; routes apply to http listeners only");
      }
    }
    if (rt.listeners.empty() && !any_http && !c.listeners.empty()) {
      r.warning(rt.where, who + " applies to no listener: there is no http listener");
    }
    if (rt.backend && !backend_defined.contains(*rt.backend)) {
      std::string defined;
      for (const auto& n : backend_names)
        defined += (defined.empty() ? "" : ", ") + quote(n);
      const std::string hint = did_you_mean(*rt.backend, backend_names);
      r.error(rt.backend_where, who + " refers to backend " + quote(*rt.backend) +
                                    ", which is not defined" +
                                    (!hint.empty()     ? hint
                                     : defined.empty() ? " (there are no backends)"
                                                       : " (defined: " + defined + ")"));
    }
  }
}

// Every name in a 'middlewares' list is a defined middleware, once per list.
void check_middleware_list(const Config& c, Reporter& r, const std::string& who,
                           const std::vector<std::string>& list,
                           const std::vector<SourceLocation>& where) {
  std::vector<std::string> defined;
  for (const auto& m : c.middlewares)
    defined.push_back(m.name);
  for (std::size_t i = 0; i < list.size() && i < where.size(); ++i) {
    if (!c.find_middleware(list[i])) {
      r.error(where[i], who + " refers to middleware " + quote(list[i]) + ", which is not defined" +
                            (defined.empty() ? " (there are no middlewares)"
                                             : did_you_mean(list[i], defined)));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (list[j] == list[i]) {
        r.error(where[i], who + " names middleware " + quote(list[i]) + " twice");
        break;
      }
    }
  }
}

void validate_middlewares(const Config& c, Reporter& r) {
  std::map<std::string, int> names;
  for (const auto& m : c.middlewares) {
    if (auto [it, fresh] = names.emplace(m.name, m.where.line); !fresh) {
      r.error(m.where, "middleware name " + quote(m.name) + " is already used on line " +
                           std::to_string(it->second) + "; names must be unique");
    }
  }
  for (const auto& l : c.listeners)
    check_middleware_list(c, r, "listener " + quote(l.name), l.middlewares, l.middlewares_where);
  for (const auto& rt : c.routes) {
    if (rt.middlewares) {
      check_middleware_list(c, r, "route " + quote(rt.name), *rt.middlewares, rt.middlewares_where);
    }
  }
}

// POST /config replaces the whole configuration, so an admin listener that
// other machines can reach must ask for a token.
void validate_admin(const Config& c, Reporter& r) {
  if (!c.admin || c.admin->token_file) return;
  HostPort hp;
  std::string why;
  if (!parse_address(c.admin->listen, AddressUse::listen, hp, why)) return;  // reported
  if (!hp.any_host && is_loopback_host(hp.host)) return;
  r.error(c.admin->listen_where,
          "admin.listen: " + c.admin->listen +
              " is not a loopback address, so admin.token_file is required: without a token "
              "anyone who can reach it could replace the configuration (or listen on "
              "127.0.0.1)");
}

}  // namespace

void validate(const Config& c, std::vector<Diagnostic>& out) {
  Reporter r(c, out);
  validate_admin(c, r);
  validate_listeners(c, r);
  validate_routes(c, r);
  validate_middlewares(c, r);
}

}  // namespace sluice::config
