// The 'listeners' block (docs/config.md, "Listeners"): where sluice accepts
// connections, and the limits an http listener puts on each request.
#include "config/block_loaders.h"
#include "config/suggest.h"
#include "config/units.h"

namespace sluice::config {

namespace {

constexpr std::array<Choice<Protocol>, 2> kProtocols{
    {{"http", Protocol::http}, {"tcp", Protocol::tcp}}};
constexpr std::array<Choice<EscapedSlashes>, 2> kEscapedSlashes{
    {{"reject", EscapedSlashes::reject}, {"keep", EscapedSlashes::keep}}};

// name, listen, protocol and, for a tcp listener, the backend it forwards to.
void load_identity(Walker& w, const yaml::Node& n, const Block& b, Listener& l) {
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

void load_timeouts(Walker& w, const yaml::Node& t, const Block& tb, ListenerTimeouts& timeouts) {
  if (!w.map_with_keys(t, tb, {"header", "idle", "request"})) return;
  w.duration_field(t, "header", tb, timeouts.header);
  w.duration_field(t, "idle", tb, timeouts.idle);
  w.duration_field(t, "request", tb, timeouts.request, true);
}

// On a tcp listener timeouts.header bounds what is read before the tunnel
// opens: the PROXY header, the TLS handshake, the ClientHello sni_routes
// reads. A tcp listener with none of them has nothing for it to bound.
void warn_unused_header_timeout(Walker& w, const yaml::Node& n, const Block& b, const Listener& l) {
  const yaml::Node t = field(n, "timeouts");
  if (l.protocol != Protocol::tcp || !t.IsMap() || !field(t, "header").IsDefined()) return;
  if (l.proxy_protocol || field(n, "tls").IsDefined() || field(n, "sni_routes").IsDefined()) return;
  w.warning(field(t, "header"),
            b.child("timeouts").at("header") +
                ": ignored on a tcp listener without proxy_protocol, tls or sni_routes");
}

// The sizes of a request head and body, and the number of connections.
void load_limits(Walker& w, const yaml::Node& n, const Block& b, Listener& l) {
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

// A silent client waits this long in the kernel, unseen by limits and logs:
// two minutes is already far past any header timeout.
constexpr Duration kMaxDeferAccept = std::chrono::seconds(120);

// `defer_accept`: true (1s), false (off), or how long a silent client may
// wait in the kernel before a worker takes it.
void load_defer_accept(Walker& w, const yaml::Node& n, const Block& b, Listener& l) {
  const yaml::Node v = field(n, "defer_accept");
  std::string text;
  if (!v.IsDefined() || !w.scalar(v, b.at("defer_accept"), text)) return;
  if (text == "true" || text == "false") {
    l.defer_accept = text == "true" ? Duration(std::chrono::seconds(1)) : Duration(0);
    return;
  }
  const auto d = parse_duration(text);
  if (!d) {
    w.error(v, b.at("defer_accept") + ": expected true, false or a duration such as 1s, got " +
                   quote(text));
  } else if (*d > kMaxDeferAccept) {
    w.error(v, b.at("defer_accept") + ": at most 120s, got " + quote(text));
  } else {
    l.defer_accept = *d;
  }
}

void load_min_body_rate(Walker& w, const yaml::Node& r, const Block& rb, MinBodyRate& rate) {
  if (w.map_with_keys(r, rb, {"bytes", "per"})) {
    w.size_field(r, "bytes", rb, rate.bytes);
    w.duration_field(r, "per", rb, rate.per);
  }
}

// A tcp listener relays bytes and never reads a request: say so rather than
// let a limit look enforced.
void warn_http_only_keys(Walker& w, const yaml::Node& n, const Block& b) {
  for (const char* key : {"max_header_size", "max_request_line", "max_header_count",
                          "max_body_size", "keep_alive_header", "min_body_rate",
                          "keep_underscore_fields", "escaped_slashes", "access_log"}) {
    if (field(n, key).IsDefined())
      w.warning(field(n, key), b.at(key) + ": ignored on a tcp listener");
  }
}

// ------------------------------------------------------------------ http2

// The limits RFC 9113 puts on what a peer may advertise.
constexpr std::uint64_t kMaxWindowSize = 2'147'483'647;  // 2^31-1 (§6.9.1)
constexpr std::uint64_t kMinFrameSize = 16'384;          // 2^14 (§6.5.2)
constexpr std::uint64_t kMaxFrameSize = 16'777'215;      // 2^24-1 (§6.5.2)
// A window below this lets a client send a request body only a few hundred
// bytes per round trip: an upload could never go fast.
constexpr std::uint64_t kMinStreamWindow = 1024;
// A connection window smaller than the one every connection starts with
// (§6.9.2) could only be had by never granting more.
constexpr std::uint64_t kMinConnectionWindow = 65'535;
constexpr std::uint64_t kMinHeaderListSize = 1024;
constexpr std::uint64_t kMaxHeaderListSize = 16 * 1024 * 1024;
constexpr long long kMaxBudget = 4'294'967'295;  // a RateBudget holds 32 bits

// map[key], a size from `lo` to `hi`; `range` says so in the message and
// `why`, if any, follows it. False when absent or refused.
bool size_in_range(Walker& w, const yaml::Node& map, std::string_view key, const Block& b,
                   std::uint64_t lo, std::uint64_t hi, std::string_view range, std::uint64_t& out,
                   std::string_view why = {}) {
  std::uint64_t v = 0;
  if (!w.size_field(map, key, b, v)) return false;
  if (v < lo || v > hi) {
    w.error(field(map, key), b.at(key) + ": must be " + std::string(range) + ", got " +
                                 quote(field(map, key).Scalar()) +
                                 (why.empty() ? "" : "; " + std::string(why)));
    return false;
  }
  out = v;
  return true;
}

void load_http2_sizes(Walker& w, const yaml::Node& h, const Block& hb, Http2& h2) {
  std::uint64_t v = 0;
  if (size_in_range(w, h, "initial_window_size", hb, kMinStreamWindow, kMaxWindowSize,
                    "from 1KiB to 2147483647 bytes (2^31-1, RFC 9113 §6.9.1)", v,
                    "a smaller window would let a client send a request body only a little per "
                    "round trip")) {
    h2.initial_window_size = static_cast<std::uint32_t>(v);
  }
  if (size_in_range(w, h, "connection_window_size", hb, kMinConnectionWindow, kMaxWindowSize,
                    "from 65535 bytes (the window every connection starts with, RFC 9113 "
                    "§6.9.2) to 2147483647 bytes (2^31-1)",
                    v)) {
    h2.connection_window_size = static_cast<std::uint32_t>(v);
  }
  if (size_in_range(w, h, "max_frame_size", hb, kMinFrameSize, kMaxFrameSize,
                    "from 16KiB to 16777215 bytes (16MiB-1, RFC 9113 §6.5.2)", v)) {
    h2.max_frame_size = static_cast<std::uint32_t>(v);
  }
  // 0 stands for the listener's max_header_size; anything else in range.
  if (w.size_field(h, "max_header_list_size", hb, v)) {
    if (v != 0 && (v < kMinHeaderListSize || v > kMaxHeaderListSize)) {
      w.error(field(h, "max_header_list_size"),
              hb.at("max_header_list_size") +
                  ": must be 0 (the listener's max_header_size) or from 1KiB to 16MiB, got " +
                  quote(field(h, "max_header_list_size").Scalar()));
    } else {
      h2.max_header_list_size = v;
    }
  }
}

// {burst, per_second}: either may be left out and keeps its default.
void load_rate_budget(Walker& w, const yaml::Node& h, std::string_view key, const Block& hb,
                      RateBudget& budget) {
  const yaml::Node n = field(h, key);
  const Block bb = hb.child(key);
  if (!n.IsDefined() || !w.map_with_keys(n, bb, {"burst", "per_second"})) return;
  w.int_field(n, "burst", bb, 1, kMaxBudget, budget.burst);
  w.int_field(n, "per_second", bb, 1, kMaxBudget, budget.per_second);
}

// An http listener's 'http2' block (docs/config.md, "http2").
void load_http2(Walker& w, const yaml::Node& h, const Block& hb, Http2& h2) {
  if (!w.map_with_keys(
          h, hb,
          {"enabled", "max_concurrent_streams", "initial_window_size", "connection_window_size",
           "max_frame_size", "max_header_list_size", "max_continuations", "reset_budget",
           "control_frame_budget", "stream_idle_timeout", "zero_window_timeout"})) {
    return;
  }
  h2.where = where(h);
  w.bool_field(h, "enabled", hb, h2.enabled);
  w.int_field(h, "max_concurrent_streams", hb, 1, 65'535, h2.max_concurrent_streams);
  load_http2_sizes(w, h, hb, h2);
  w.int_field(h, "max_continuations", hb, 1, 1000, h2.max_continuations);
  load_rate_budget(w, h, "reset_budget", hb, h2.reset_budget);
  load_rate_budget(w, h, "control_frame_budget", hb, h2.control_frame_budget);
  w.duration_field(h, "stream_idle_timeout", hb, h2.stream_idle_timeout);
  w.duration_field(h, "zero_window_timeout", hb, h2.zero_window_timeout);
}

// A client that agrees on "h2" by ALPN must then be spoken to in HTTP/2:
// offering it with HTTP/2 off would break every such client.
void check_alpn_offers_enabled_http2(Walker& w, const yaml::Node& n, const Block& b,
                                     const Listener& l) {
  if (l.protocol != Protocol::http || l.http2.enabled || !l.tls) return;
  const yaml::Node alpn = field(field(n, "tls"), "alpn");
  if (!alpn.IsSequence()) return;
  for (const auto& item : alpn) {
    if (item.IsScalar() && item.Scalar() == "h2") {
      w.error(item, b.child("tls").at("alpn") +
                        ": h2 is offered but http2.enabled is false (remove h2, or enable "
                        "http2)");
    }
  }
}

// tcp listeners only: http listeners choose a backend per request, by Host.
void load_listener_sni_routes(Walker& w, const yaml::Node& n, const Block& b, Listener& l) {
  const yaml::Node s = field(n, "sni_routes");
  if (!s.IsDefined()) return;
  if (l.protocol != Protocol::tcp) {
    w.error(s, b.at("sni_routes") +
                   ": only tcp listeners route by server name; http listeners reach backends "
                   "through routes (match.host)");
    return;
  }
  load_sni_routes(w, s, b.child("sni_routes"), l.sni_routes);
}

void load_listener(Walker& w, const yaml::Node& n, std::size_t index, std::string_view base_dir,
                   Listener& l) {
  l.where = where(n);
  const Block b{owner_name(n, "listener", index), ""};
  if (!w.map_with_keys(n, b,
                       {"name",
                        "listen",
                        "protocol",
                        "backend",
                        "sni_routes",
                        "timeouts",
                        "max_header_size",
                        "max_request_line",
                        "max_header_count",
                        "max_body_size",
                        "max_connections",
                        "defer_accept",
                        "keep_alive_header",
                        "proxy_protocol",
                        "tls",
                        "min_body_rate",
                        "keep_underscore_fields",
                        "escaped_slashes",
                        "http2",
                        "middlewares",
                        "access_log"})) {
    return;
  }
  load_identity(w, n, b, l);
  load_listener_sni_routes(w, n, b, l);
  if (const yaml::Node t = field(n, "timeouts"); t.IsDefined()) {
    load_timeouts(w, t, b.child("timeouts"), l.timeouts);
  }
  load_limits(w, n, b, l);
  load_defer_accept(w, n, b, l);
  w.bool_field(n, "keep_alive_header", b, l.keep_alive_header);
  w.bool_field(n, "proxy_protocol", b, l.proxy_protocol);
  w.bool_field(n, "keep_underscore_fields", b, l.keep_underscore_fields);
  w.choice_field(n, "escaped_slashes", b, kEscapedSlashes, l.escaped_slashes);
  if (const yaml::Node r = field(n, "min_body_rate"); r.IsDefined()) {
    load_min_body_rate(w, r, b.child("min_body_rate"), l.min_body_rate);
  }
  if (const yaml::Node h = field(n, "http2"); h.IsDefined()) {
    if (l.protocol == Protocol::tcp) {
      w.error(h, b.at("http2") +
                     ": http2 applies to http listeners (a tcp listener relays "
                     "bytes, whatever protocol they carry)");
    } else {
      load_http2(w, h, b.child("http2"), l.http2);
    }
  }
  if (const yaml::Node m = field(n, "middlewares"); m.IsDefined()) {
    if (l.protocol == Protocol::tcp) {
      w.error(m, b.at("middlewares") + ": middlewares apply to http listeners");
    } else {
      w.string_list(n, "middlewares", b, l.middlewares, &l.middlewares_where);
    }
  }
  if (const yaml::Node a = field(n, "access_log"); a.IsDefined() && l.protocol == Protocol::http) {
    load_listener_access_log(w, a, b.child("access_log"), base_dir, l.access_log.emplace());
  }
  if (l.protocol == Protocol::tcp) warn_http_only_keys(w, n, b);
  warn_unused_header_timeout(w, n, b, l);
  if (const yaml::Node tls = field(n, "tls"); tls.IsDefined()) {
    Tls t;
    if (load_listener_tls(w, tls, b.child("tls"), l.protocol, base_dir, t)) l.tls = std::move(t);
  }
  check_alpn_offers_enabled_http2(w, n, b, l);
}

}  // namespace

void load_listeners(Walker& w, const yaml::Node& n, std::string_view base_dir,
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
