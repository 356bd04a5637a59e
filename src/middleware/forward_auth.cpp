// The 'forward_auth' middleware (docs/middlewares/forward_auth.md): each
// request is first asked of an auth server, with the client's fields and
// X-Forwarded-Method/Proto/Host/Uri/For. A 2xx answer lets the request go
// on, with the fields named in copy_headers set from the answer; any other
// answer goes to the client as the auth server sent it (status, fields such
// as WWW-Authenticate, Location and Set-Cookie, body). When the auth server
// cannot be asked, on_error decides: 503, or let the request pass.
#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include <re2/re2.h>

#include "config/model.h"
#include "core/address.h"
#include "http/hop_by_hop.h"
#include "middleware/auth_client.h"
#include "middleware/auth_decision_cache.h"
#include "middleware/kinds.h"

namespace sluice::middleware {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// X-Forwarded-*, also spelt with '_': CGI, WSGI and Rack auth servers map
// both to HTTP_X_FORWARDED_*, so a client's X_Forwarded_Uri would pass for
// the one sluice sends.
bool names_x_forwarded(std::string_view name) {
  static constexpr std::string_view kPrefix = "x-forwarded-";
  if (name.size() < kPrefix.size()) return false;
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    const char c = name[i] == '_' ? '-' : static_cast<char>(name[i] | 0x20);
    if (c != kPrefix[i]) return false;
  }
  return true;
}

// Fields a client may not send the auth server: the connection's own
// (RFC 9110 §7.6.1), the framing (RFC 9112 §6; the auth request has its
// own), Host (the auth server's), Expect (nobody waits for 100 Continue
// here), and what sluice states about the client itself: a client's own
// X-Forwarded-* or Forwarded would let it tell the auth server it asked
// for another URI or came from another address.
bool never_sent(std::string_view name) {
  static constexpr std::string_view kNever[] = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "te",   "trailer",        "proxy-connection",  "expect",     "forwarded"};
  for (std::string_view n : kNever) {
    if (iequals(name, n)) return true;
  }
  return name.empty() || name.front() == ':' || names_x_forwarded(name);
}

// Fields the proxy refuses in RequestEdits (framing, Host, hop-by-hop,
// X-Forwarded-*): never copied from an answer.
bool not_copyable(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "te",   "trailer",        "proxy-connection"};
  for (std::string_view n : kReserved) {
    if (iequals(name, n)) return true;
  }
  return istarts_with(name, "x-forwarded-");
}

// Fields of a denial the proxy states itself when it sends the answer.
bool restated_by_proxy(std::string_view name) {
  return iequals(name, "date");
}

// One copy_headers entry: a name, or a prefix ("X-Auth-*").
struct CopyPattern {
  std::string text;  // without the '*'
  bool prefix = false;

  bool matches(std::string_view name) const {
    return prefix ? istarts_with(name, text) : iequals(name, text);
  }
};

class ForwardAuth final : public Middleware {
 public:
  ForwardAuth(const config::Middleware& def, AuthServer server, std::string authority,
              std::size_t workers)
      : settings_(def.forward_auth),
        name_(def.name),
        authority_(std::move(authority)),
        client_(std::move(server), workers) {
    for (const std::string& p : settings_.copy_headers) {
      if (p.ends_with('*')) {
        copy_.push_back(CopyPattern{p.substr(0, p.size() - 1), true});
      } else {
        copy_.push_back(CopyPattern{p, false});
      }
    }
    if (!settings_.copy_headers_regex.empty()) {
      re2::RE2::Options options;
      options.set_case_sensitive(false);
      options.set_log_errors(false);
      copy_regex_ = std::make_unique<re2::RE2>(settings_.copy_headers_regex, options);
    }
    if (settings_.cache) cache_ = std::make_unique<DecisionCache>(settings_.cache->max_entries);
  }

  // False (with `error`) when copy_headers_regex is not a pattern RE2 takes.
  bool copy_regex_ok(std::string& error) const {
    if (!copy_regex_ || copy_regex_->ok()) return true;
    error = "copy_headers_regex: " + copy_regex_->error();
    return false;
  }

  std::size_t wants_body() const override {
    return static_cast<std::size_t>(settings_.forward_body_max);
  }

  // The chain keeps this object alive while the request runs (the
  // MiddlewarePass holds its chain); `r` and the edits live in the
  // exchange's frame for as long.
  Task<Verdict> on_request(const Context& ctx, const Request& r, RequestEdits& edits,
                           Answer& answer, std::unique_ptr<ResponseFilter>& filter) override {
    (void)filter;
    DecisionKey key{};
    if (cache_) {
      key = key_of(r);
      if (std::optional<Decision> d = cache_->find(key, DecisionCache::Clock::now())) {
        co_return apply(*d, r, edits, answer, true);
      }
    }
    std::string_view method = "GET";
    std::string_view body;
    if (settings_.forward_body_max > 0) {
      // With its body, the request keeps its method: the auth server
      // sees what the backend would.
      method = r.method;
      body = r.body;
      // The chain reads as much as its hungriest middleware wants: more
      // than our max, or our max of a body that goes on, is too much.
      if (r.body.size() > settings_.forward_body_max ||
          (!r.body_complete && r.body.size() >= settings_.forward_body_max)) {
        answer.status = 413;
        answer.fields.push_back({"Content-Type", "text/plain"});
        answer.body = "the request body is larger than the authentication check accepts\n";
        answer.reason = "forward_auth: body over forward_body.max (" +
                        std::to_string(settings_.forward_body_max) + " bytes)";
        co_return Verdict::answer;
      }
    }
    const std::string head = request_head(r, method, body);
    AuthAnswer reply;
    std::string why;
    const AuthFailure failure = co_await client_.exchange(
        ctx, head, body, http::method_from(method),
        static_cast<std::uint64_t>(settings_.timeout.count()), reply, why);
    if (failure != AuthFailure::none) co_return on_failure(failure, why, r, edits, answer);
    const bool allow = reply.status >= 200 && reply.status <= 299;
    if (!allow && reply.body_too_large) {
      co_return on_failure(AuthFailure::malformed,
                           "its denial's body is larger than max_response_body (" +
                               std::to_string(settings_.max_response_body) + " bytes)",
                           r, edits, answer);
    }
    Decision d = decide(allow, reply);
    const Verdict v = apply(d, r, edits, answer, false);
    if (cache_) remember(key, std::move(d), reply);
    co_return v;
  }

 private:
  // The auth request's head: the auth server's path, Host, the client's
  // fields, what sluice knows of the client, and the body's length.
  std::string request_head(const Request& r, std::string_view method, std::string_view body) const {
    std::string out;
    out.reserve(512);
    out.append(method).append(" ").append(settings_.path).append(" HTTP/1.1\r\nHost: ");
    out.append(authority_).append("\r\n");
    const http::HopByHopFields hop(r.fields);
    for (const http::HeaderField& f : r.fields) {
      if (never_sent(f.name) || hop.contains(f.name)) continue;
      if (settings_.request_headers) {
        const auto& wanted = *settings_.request_headers;
        if (std::none_of(wanted.begin(), wanted.end(),
                         [&](const std::string& w) { return iequals(w, f.name); })) {
          continue;
        }
      }
      out.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    out.append("X-Forwarded-Method: ").append(r.method).append("\r\n");
    out.append("X-Forwarded-Proto: ").append(r.scheme).append("\r\n");
    out.append("X-Forwarded-Host: ").append(r.authority.empty() ? r.host : r.authority);
    out.append("\r\nX-Forwarded-Uri: ").append(r.target).append("\r\n");
    if (r.client != nullptr) {
      out.append("X-Forwarded-For: ").append(r.client->host_string()).append("\r\n");
    }
    if (!body.empty() || (settings_.forward_body_max > 0 && method != "GET" && method != "HEAD")) {
      out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    out.append("\r\n");
    return out;
  }

  // The request's host, then the key's parts in their order.
  DecisionKey key_of(const Request& r) const {
    DecisionKeyBuilder b;
    b.add(r.authority.empty() ? r.host : r.authority);
    for (const std::string& part : settings_.cache->key) {
      if (part == "$method") {
        b.add(r.method);
      } else if (part == "$uri") {
        b.add(r.target);
      } else {
        // Every value of the field, in order; absence differs from an
        // empty value.
        b.add(part);
        for (const http::HeaderField& f : r.fields) {
          if (iequals(f.name, part)) b.add(f.value);
        }
      }
    }
    return b.finish();
  }

  Decision decide(bool allow, const AuthAnswer& reply) const {
    Decision d;
    d.allow = allow;
    if (allow) {
      for (const Field& f : reply.fields) {
        if (not_copyable(f.name) || !copied(f.name)) continue;
        // edits.set replaces every field of a name: repeated fields of the
        // answer become one list (RFC 9110 §5.3).
        auto same = std::find_if(d.set.begin(), d.set.end(),
                                 [&](const Field& s) { return iequals(s.name, f.name); });
        if (same != d.set.end()) {
          same->value.append(", ").append(f.value);
        } else {
          d.set.push_back(f);
        }
      }
      return d;
    }
    d.deny.status = reply.status;
    for (const Field& f : reply.fields) {
      if (!restated_by_proxy(f.name)) d.deny.fields.push_back(f);
    }
    d.deny.body = reply.body;
    return d;
  }

  // The client's own fields that copy_headers names never reach the
  // backend: had the auth server not sent X-User, a client's X-User would
  // otherwise pass as if it had.
  // copy_headers names it, or copy_headers_regex matches it.
  bool copied(std::string_view name) const {
    return std::any_of(copy_.begin(), copy_.end(),
                       [&](const CopyPattern& p) { return p.matches(name); }) ||
           (copy_regex_ && re2::RE2::PartialMatch(name, *copy_regex_));
  }

  void remove_client_copies(const Request& r, RequestEdits& edits) const {
    if (copy_regex_) {
      for (const http::HeaderField& f : r.fields) {
        if (re2::RE2::PartialMatch(f.name, *copy_regex_) && !not_copyable(f.name)) {
          edits.remove.emplace_back(f.name);
        }
      }
    }
    for (const CopyPattern& p : copy_) {
      if (!p.prefix) {
        edits.remove.push_back(p.text);
        continue;
      }
      for (const http::HeaderField& f : r.fields) {
        if (p.matches(f.name) && !not_copyable(f.name)) edits.remove.emplace_back(f.name);
      }
    }
  }

  Verdict apply(const Decision& d, const Request& r, RequestEdits& edits, Answer& answer,
                bool cached) const {
    if (d.allow) {
      remove_client_copies(r, edits);
      for (const Field& f : d.set)
        edits.set.push_back(f);
      return Verdict::next;
    }
    answer.status = d.deny.status;
    answer.fields = d.deny.fields;
    answer.body = d.deny.body;
    answer.reason = std::string(cached ? "cached: " : "") + "the auth server answered " +
                    std::to_string(d.deny.status);
    return Verdict::answer;
  }

  void remember(const DecisionKey& key, Decision d, const AuthAnswer& reply) {
    const auto configured = d.allow ? settings_.cache->allow_ttl : settings_.cache->deny_ttl;
    // A configured 0 never keeps that kind of decision, whatever the
    // answer says.
    if (configured.count() == 0) return;
    // A denial that sets a cookie (a login flow's state) is meant for one
    // response: replaying it to the next request would reuse its nonce.
    if (!d.allow && std::any_of(reply.fields.begin(), reply.fields.end(),
                                [](const Field& f) { return iequals(f.name, "set-cookie"); })) {
      return;
    }
    cache_->store(key, std::move(d), decision_ttl(reply.fields, configured),
                  DecisionCache::Clock::now());
  }

  Verdict on_failure(AuthFailure failure, const std::string& why, const Request& r,
                     RequestEdits& edits, Answer& answer) const {
    const std::string& server = client_.server().name;
    if (failure == AuthFailure::cancelled) {
      answer.status = 503;
      answer.reason = "forward_auth: the client went away while the auth server was asked";
      return Verdict::answer;
    }
    if (settings_.on_error == config::ForwardAuthOnError::allow) {
      spdlog::warn("middleware '{}': auth server {}: {}; the request passes (on_error: allow)",
                   name_, server, why);
      remove_client_copies(r, edits);
      return Verdict::next;
    }
    answer.status = 503;
    answer.fields.push_back({"Content-Type", "text/plain"});
    answer.body = "authentication is unavailable\n";
    answer.reason = "forward_auth: auth server " + server + ": " + why;
    return Verdict::answer;
  }

  config::ForwardAuth settings_;
  std::string name_;
  std::string authority_;  // the auth request's Host
  std::vector<CopyPattern> copy_;
  std::unique_ptr<re2::RE2> copy_regex_;  // null: none
  AuthClient client_;
  std::unique_ptr<DecisionCache> cache_;  // null: no cache
};

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::shared_ptr<Middleware> make_forward_auth(const config::Middleware& def,
                                              const BuildContext& ctx, std::string& error) {
  const config::ForwardAuth& s = def.forward_auth;
  const bool v6 = s.host.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + s.host + "]" : s.host;
  const std::uint16_t default_port = s.https ? 443 : 80;
  std::string authority = host;
  if (s.port != default_port) authority += ":" + std::to_string(s.port);
  // Resolved once, here: a lookup blocks, which a worker's loop must never
  // do. A reload resolves again.
  auto resolved = SocketAddress::resolve(host + ":" + std::to_string(s.port));
  if (!resolved) {
    error = "address: cannot resolve '" + s.host + "'";
    return nullptr;
  }
  AuthServer server;
  server.address = *resolved;
  server.name = s.address;
  server.max_response_body = s.max_response_body;
  server.max_idle = s.max_idle;
  if (s.https) {
    const config::ForwardAuthTls tls = s.tls.value_or(config::ForwardAuthTls{});
    tls::ClientSettings cs;
    cs.verify = tls.verify;
    cs.ca = tls.ca;
    std::string why;
    server.tls = tls::ClientContext::create(cs, why);
    if (!server.tls) {
      error = "tls: " + why;
      return nullptr;
    }
    const bool literal = is_ip_literal(s.host);
    server.sni = tls.sni ? *tls.sni : literal ? std::string() : s.host;
    server.verify_name = tls.sni && !tls.sni->empty() ? *tls.sni : s.host;
  }
  auto made =
      std::make_shared<ForwardAuth>(def, std::move(server), std::move(authority), ctx.workers);
  if (!made->copy_regex_ok(error)) return nullptr;
  return made;
}

}  // namespace sluice::middleware
