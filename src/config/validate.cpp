#include "config/validate.h"

#include <arpa/inet.h>

#include <charconv>
#include <map>
#include <string>

#include "config/model.h"
#include "config/suggest.h"
#include "core/address.h"

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

bool is_token(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool valid_host_pattern(const std::string& h) {
  std::string_view v(h);
  if (v.size() > 2 && v.substr(0, 2) == "*.") v.remove_prefix(2);
  if (v.empty()) return false;
  for (char c : v) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

std::string quoted_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names)
    s += (s.empty() ? "'" : ", '") + n + "'";
  return s.empty() ? "none" : s;
}

void validate_listeners(const Config& c, Reporter& r) {
  std::map<std::string, int> names;  // name -> line of first use
  std::map<std::string, int> addresses;
  for (const auto& l : c.listeners) {
    if (!l.name.empty()) {
      auto [it, inserted] = names.emplace(l.name, l.name_where.line);
      if (!inserted) {
        r.error(l.name_where, "listener name '" + l.name + "' is already used on line " +
                                  std::to_string(it->second) + "; names must be unique");
      }
    }
    const std::string who = "listener '" + l.name + "'";
    if (!l.listen.empty()) {
      if (!valid_address(l.listen, 0, false)) {
        r.error(l.listen_where, who +
                                    ": listen: expected host:port or [v6]:port with a port from "
                                    "0 to 65535, got '" +
                                    l.listen + "'");
      } else {
        std::string_view host;
        std::uint16_t port = 0;
        split_host_port(l.listen, host, port);
        if (port != 0) {
          auto [it, inserted] = addresses.emplace(l.listen, l.listen_where.line);
          if (!inserted) {
            r.error(l.listen_where, who + ": address " + l.listen + " is already used on line " +
                                        std::to_string(it->second));
          }
        }
      }
    }
    if (l.max_header_size < 1024 || l.max_header_size > 64 * 1024) {
      r.error(l.where, who + ": max_header_size must be from 1KiB to 64KiB");
    }
    if (l.max_request_line > l.max_header_size) {
      r.error(l.where, who + ": max_request_line must not exceed max_header_size");
    }
    if (l.protocol == Protocol::tcp) {
      if (!l.backend) {
        r.error(l.where, who + ": a tcp listener needs 'backend', the backend it forwards to");
      } else if (!c.find_backend(*l.backend)) {
        std::vector<std::string> known;
        for (const auto& b : c.backends)
          known.push_back(b.name);
        const std::string hint = suggest(*l.backend, known);
        r.error(l.backend_where, who + " refers to backend '" + *l.backend +
                                     "', which is not defined" +
                                     (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
      }
    } else if (l.backend) {
      r.error(
          l.backend_where,
          who + ": 'backend' is for tcp listeners; http listeners reach backends through routes");
    }
  }
}

void validate_match(const Route& rt, const std::string& who, Reporter& r) {
  const auto& m = rt.match;
  const int paths = (m.path ? 1 : 0) + (m.path_exact ? 1 : 0) + (m.path_regex ? 1 : 0);
  if (paths > 1) r.error(rt.match_where, who + ": use only one of path, path_exact and path_regex");
  for (const auto* p : {&m.path, &m.path_exact}) {
    if (*p && (*p)->front() != '/') {
      r.error(rt.match_where, who + ": paths start with '/', got '" + **p + "'");
    }
  }
  if (m.host && !valid_host_pattern(*m.host)) {
    r.error(rt.match_where,
            who + ": host: expected a host name or *.suffix, got '" + *m.host + "'");
  }
  for (const auto& method : m.methods) {
    if (!is_token(method)) r.error(rt.match_where, who + ": '" + method + "' is not a method name");
  }
  for (const auto& h : m.headers) {
    if (!is_token(h.name)) r.error(rt.match_where, who + ": '" + h.name + "' is not a field name");
  }
}

void validate_routes(const Config& c, Reporter& r) {
  std::map<std::string, int> names;
  std::vector<std::string> backend_names;
  for (const auto& b : c.backends)
    backend_names.push_back(b.name);
  for (const auto& rt : c.routes) {
    auto [it, inserted] = names.emplace(rt.name, rt.name_where.line);
    if (!inserted) {
      r.error(rt.name_where, "route name '" + rt.name + "' is already used on line " +
                                 std::to_string(it->second) + "; names must be unique");
    }
    const std::string who = "route '" + rt.name + "'";
    for (const auto& ln : rt.listeners) {
      const Listener* found = nullptr;
      for (const auto& l : c.listeners) {
        if (l.name == ln) found = &l;
      }
      if (!found) {
        std::vector<std::string> known;
        for (const auto& l : c.listeners)
          known.push_back(l.name);
        const std::string hint = suggest(ln, known);
        r.error(rt.listeners_where, who + " refers to listener '" + ln + "', which is not defined" +
                                        (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
      } else if (found->protocol != Protocol::http) {
        r.error(rt.listeners_where, who + ": listener '" + ln +
                                        "' is a tcp listener; routes apply "
                                        "to http listeners only");
      }
    }
    const int actions = (rt.backend ? 1 : 0) + (rt.respond ? 1 : 0) + (rt.redirect ? 1 : 0);
    if (actions != 1) {
      r.error(rt.where, who + ": needs exactly one of 'backend', 'respond' and 'redirect' (has " +
                            std::to_string(actions) + ")");
    }
    if (rt.backend && !c.find_backend(*rt.backend)) {
      const std::string hint = suggest(*rt.backend, backend_names);
      r.error(rt.backend_where,
              who + " refers to backend '" + *rt.backend + "', which is not defined" +
                  (hint.empty() ? " (defined: " + quoted_names(backend_names) + ")"
                                : " (did you mean '" + hint + "'?)"));
    }
    if (rt.rewrite && !rt.backend) {
      r.error(rt.where, who + ": 'rewrite' applies only to routes with a 'backend'");
    }
    if (rt.rewrite && rt.rewrite->path && rt.rewrite->path->front() != '/') {
      r.error(rt.where, who + ": rewrite.path must start with '/'");
    }
    if (rt.redirect) {
      const int s = rt.redirect->status;
      if (s != 301 && s != 302 && s != 303 && s != 307 && s != 308) {
        r.error(rt.where, who + ": redirect.status must be 301, 302, 303, 307 or 308");
      }
    }
    validate_match(rt, who, r);
  }
}

void validate_backends(const Config& c, Reporter& r) {
  for (const auto& b : c.backends) {
    const std::string who = "backend '" + b.name + "'";
    for (const auto& s : b.servers) {
      if (!valid_address(s.address, 1, true)) {
        r.error(s.address_where, who +
                                     ": server address: expected host:port with a port from 1 "
                                     "to 65535, got '" +
                                     s.address + "'");
      }
    }
    if (b.balance != "hash" && b.hash_key != "source_ip") {
      r.warning(b.where, who + ": 'hash' is ignored unless balance is hash");
    }
  }
}

}  // namespace

bool valid_address(const std::string& text, int min_port, bool need_host) {
  std::string_view host;
  std::uint16_t port = 0;
  if (!split_host_port(text, host, port)) return false;
  if (port < min_port) return false;
  if (need_host && (host.empty() || host == "*")) return false;
  return true;
}

bool valid_cidr(const std::string& text) {
  const auto slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  unsigned char buf[16];
  int max_prefix;
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    max_prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    max_prefix = 128;
  } else {
    return false;
  }
  if (slash == std::string::npos) return true;
  const std::string p = text.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  return ec == std::errc{} && end == p.data() + p.size() && prefix >= 0 && prefix <= max_prefix;
}

void validate(const Config& c, std::vector<Diagnostic>& out) {
  Reporter r(c, out);
  validate_listeners(c, r);
  validate_routes(c, r);
  validate_backends(c, r);
  if (c.admin && !c.admin->listen.empty() && !valid_address(c.admin->listen, 0, false)) {
    r.error(c.admin->listen_where,
            "admin: listen: expected host:port, got '" + c.admin->listen + "'");
  }
  for (const auto& cidr : c.forwarded.except) {
    if (!valid_cidr(cidr)) {
      r.error(
          c.forwarded.except_where,
          "forwarded.except: expected a network such as 10.0.0.0/8 or ::1/128, got '" + cidr + "'");
    }
  }
}

}  // namespace sluice::config
