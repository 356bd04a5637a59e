// The 'listeners' block (docs/config.md, "Listeners"): where sluice accepts
// connections, and the limits an http listener puts on each request.
#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

constexpr std::array<Choice<Protocol>, 2> kProtocols{
    {{"http", Protocol::http}, {"tcp", Protocol::tcp}}};
constexpr std::array<Choice<EscapedSlashes>, 2> kEscapedSlashes{
    {{"reject", EscapedSlashes::reject}, {"keep", EscapedSlashes::keep}}};

// name, listen, protocol and, for a tcp listener, the backend it forwards to.
void load_identity(Walker& w, const YAML::Node& n, const Block& b, Listener& l) {
  w.name_field(n, b, l.name, true);
  l.name_where = where(field(n, "name"));
  if (w.string_field(n, "listen", b, l.listen, true)) {
    w.address_check(field(n, "listen"), b.at("listen"), l.listen, AddressUse::listen);
  }
  l.listen_where = where(field(n, "listen"));
  w.choice_field(n, "protocol", b, kProtocols, l.protocol);
  w.opt_string(n, "backend", b, l.backend);
  l.backend_where = where(field(n, "backend"));
  const bool tcp = l.protocol == Protocol::tcp;
  // With sni_routes the backend is the fallback for names no route has.
  if (tcp && !field(n, "backend").IsDefined() && !field(n, "sni_routes").IsDefined()) {
    w.missing(n, b, "backend", "a tcp listener forwards to one backend, or routes by sni_routes");
  } else if (!tcp && field(n, "backend").IsDefined()) {
    w.error(field(n, "backend"), b.at("backend") +
                                     ": only tcp listeners name a backend; http listeners reach "
                                     "backends through routes");
  }
}

void load_timeouts(Walker& w, const YAML::Node& t, const Block& tb, ListenerTimeouts& timeouts) {
  if (!w.map_with_keys(t, tb, {"header", "idle", "request"})) return;
  w.duration_field(t, "header", tb, timeouts.header);
  w.duration_field(t, "idle", tb, timeouts.idle);
  w.duration_field(t, "request", tb, timeouts.request, true);
}

// On a tcp listener timeouts.header bounds what is read before the tunnel
// opens: the PROXY header, the TLS handshake, the ClientHello sni_routes
// reads. A tcp listener with none of them has nothing for it to bound.
void warn_unused_header_timeout(Walker& w, const YAML::Node& n, const Block& b, const Listener& l) {
  const YAML::Node t = field(n, "timeouts");
  if (l.protocol != Protocol::tcp || !t.IsMap() || !field(t, "header").IsDefined()) return;
  if (l.proxy_protocol || field(n, "tls").IsDefined() || field(n, "sni_routes").IsDefined()) return;
  w.warning(field(t, "header"),
            b.child("timeouts").at("header") +
                ": ignored on a tcp listener without proxy_protocol, tls or sni_routes");
}

// The sizes of a request head and body, and the number of connections.
void load_limits(Walker& w, const YAML::Node& n, const Block& b, Listener& l) {
  if (w.size_field(n, "max_header_size", b, l.max_header_size) &&
      (l.max_header_size < 1024 || l.max_header_size > 64 * 1024)) {
    w.error(field(n, "max_header_size"), b.at("max_header_size") +
                                             ": must be from 1KiB to 64KiB, got " +
                                             quote(field(n, "max_header_size").Scalar()));
  }
  // After max_header_size: a request line is part of the head.
  if (w.size_field(n, "max_request_line", b, l.max_request_line) &&
      (l.max_request_line < 64 || l.max_request_line > l.max_header_size)) {
    w.error(field(n, "max_request_line"),
            b.at("max_request_line") + ": must be at least 64 bytes and at most max_header_size (" +
                std::to_string(l.max_header_size) + " bytes)");
  }
  w.int_field(n, "max_header_count", b, 1, 1000, l.max_header_count);
  std::uint64_t body = 0;
  if (w.size_field(n, "max_body_size", b, body)) l.max_body_size = body;
  w.opt_int(n, "max_connections", b, 1, 10'000'000, l.max_connections);
}

void load_min_body_rate(Walker& w, const YAML::Node& r, const Block& rb, MinBodyRate& rate) {
  if (w.map_with_keys(r, rb, {"bytes", "per"})) {
    w.size_field(r, "bytes", rb, rate.bytes);
    w.duration_field(r, "per", rb, rate.per);
  }
}

// A tcp listener relays bytes and never reads a request: say so rather than
// let a limit look enforced.
void warn_http_only_keys(Walker& w, const YAML::Node& n, const Block& b) {
  for (const char* key :
       {"max_header_size", "max_request_line", "max_header_count", "max_body_size",
        "keep_alive_header", "min_body_rate", "keep_underscore_fields", "escaped_slashes"}) {
    if (field(n, key).IsDefined())
      w.warning(field(n, key), b.at(key) + ": ignored on a tcp listener");
  }
}

// tcp listeners only: http listeners choose a backend per request, by Host.
void load_listener_sni_routes(Walker& w, const YAML::Node& n, const Block& b, Listener& l) {
  const YAML::Node s = field(n, "sni_routes");
  if (!s.IsDefined()) return;
  if (l.protocol != Protocol::tcp) {
    w.error(s, b.at("sni_routes") +
                   ": only tcp listeners route by server name; http listeners reach backends "
                   "through routes (match.host)");
    return;
  }
  load_sni_routes(w, s, b.child("sni_routes"), l.sni_routes);
}

void load_listener(Walker& w, const YAML::Node& n, std::size_t index, std::string_view base_dir,
                   Listener& l) {
  l.where = where(n);
  const Block b{owner_name(n, "listener", index), ""};
  if (!w.map_with_keys(n, b,
                       {"name", "listen", "protocol", "backend", "sni_routes", "timeouts",
                        "max_header_size", "max_request_line", "max_header_count", "max_body_size",
                        "max_connections", "keep_alive_header", "proxy_protocol", "tls",
                        "min_body_rate", "keep_underscore_fields", "escaped_slashes"})) {
    return;
  }
  load_identity(w, n, b, l);
  load_listener_sni_routes(w, n, b, l);
  if (const YAML::Node t = field(n, "timeouts"); t.IsDefined()) {
    load_timeouts(w, t, b.child("timeouts"), l.timeouts);
  }
  load_limits(w, n, b, l);
  w.bool_field(n, "keep_alive_header", b, l.keep_alive_header);
  w.bool_field(n, "proxy_protocol", b, l.proxy_protocol);
  w.bool_field(n, "keep_underscore_fields", b, l.keep_underscore_fields);
  w.choice_field(n, "escaped_slashes", b, kEscapedSlashes, l.escaped_slashes);
  if (const YAML::Node r = field(n, "min_body_rate"); r.IsDefined()) {
    load_min_body_rate(w, r, b.child("min_body_rate"), l.min_body_rate);
  }
  if (l.protocol == Protocol::tcp) warn_http_only_keys(w, n, b);
  warn_unused_header_timeout(w, n, b, l);
  if (const YAML::Node tls = field(n, "tls"); tls.IsDefined()) {
    Tls t;
    if (load_listener_tls(w, tls, b.child("tls"), l.protocol, base_dir, t)) l.tls = std::move(t);
  }
}

}  // namespace

void load_listeners(Walker& w, const YAML::Node& n, std::string_view base_dir,
                    std::vector<Listener>& listeners) {
  if (!n.IsSequence() || n.size() == 0) {
    w.error(n, "listeners: expected a non-empty list of listeners, got " + describe(n));
    return;
  }
  std::size_t i = 0;
  for (const auto& item : n)
    load_listener(w, item, i++, base_dir, listeners.emplace_back());
}

}  // namespace sluice::config
