// The 'backends' block (docs/config.md, "Backends"): each backend's
// servers, how one is chosen for a request, and how requests wait, reuse
// connections, time out and are retried. health_check is in
// load_health_check.cpp.
#include <algorithm>
#include <cassert>
#include <map>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

constexpr std::array<Choice<Balance>, 5> kBalances{{{"round_robin", Balance::round_robin},
                                                    {"least_conn", Balance::least_conn},
                                                    {"random", Balance::random},
                                                    {"p2c", Balance::p2c},
                                                    {"hash", Balance::hash}}};
constexpr std::array<Choice<HashKey>, 4> kHashKeys{{{"source_ip", HashKey::source_ip},
                                                    {"header", HashKey::header},
                                                    {"cookie", HashKey::cookie},
                                                    {"path", HashKey::path}}};
constexpr std::array<Choice<SendProxy>, 3> kSendProxy{
    {{"none", SendProxy::none}, {"v1", SendProxy::v1}, {"v2", SendProxy::v2}}};
constexpr std::array<Choice<BackendProtocol>, 3> kProtocols{{{"http1", BackendProtocol::http1},
                                                             {"h2", BackendProtocol::h2},
                                                             {"h2c", BackendProtocol::h2c}}};
constexpr std::array<Choice<PoolReuse>, 3> kReuse{
    {{"never", PoolReuse::never}, {"safe", PoolReuse::safe}, {"always", PoolReuse::always}}};

// "host:port", or a map with 'address' and the server's own settings.
void load_server(Walker& w, const yaml::Node& n, const Block& sb, Server& s) {
  s.address_where = where(n);
  if (n.IsScalar()) {
    if (w.string_value(n, sb.label(), s.address)) {
      w.address_check(n, sb.label(), s.address, AddressUse::server);
    }
    return;
  }
  if (!n.IsMap()) {
    w.error(n, sb.label() + ": expected \"host:port\" or a map with 'address', got " + describe(n));
    return;
  }
  if (!w.map_with_keys(n, sb, {"address", "weight", "max_connections", "send_proxy", "backup"})) {
    return;
  }
  if (w.string_field(n, "address", sb, s.address, true)) {
    s.address_where = where(field(n, "address"));
    w.address_check(field(n, "address"), sb.at("address"), s.address, AddressUse::server);
  }
  w.int_field(n, "weight", sb, 1, 256, s.weight);
  w.opt_int(n, "max_connections", sb, 1, 1'000'000, s.max_connections);
  w.choice_field(n, "send_proxy", sb, kSendProxy, s.send_proxy);
  w.bool_field(n, "backup", sb, s.backup);
}

// A server without an address is left out: it has been reported.
void load_servers(Walker& w, const yaml::Node& n, const Block& b, std::vector<Server>& servers) {
  const yaml::Node list = field(n, "servers");
  if (!list.IsDefined()) {
    w.missing(n, b, "servers");
    return;
  }
  if (!list.IsSequence() || list.size() == 0) {
    w.error(list,
            b.at("servers") + ": expected a non-empty list of servers, got " + describe(list));
    return;
  }
  const Block sb = b.child("servers");
  for (const auto& item : list) {
    Server s;
    load_server(w, item, sb, s);
    if (!s.address.empty()) servers.push_back(std::move(s));
  }
  if (!servers.empty() &&
      std::all_of(servers.begin(), servers.end(), [](const Server& s) { return s.backup; })) {
    w.warning(list, b.at("servers") + ": every server is a backup, so none is ever preferred");
  }
}

// False when `h` is not a map of hash settings.
bool load_hash(Walker& w, const yaml::Node& h, const Block& hb, Balance balance, Hash& hash) {
  if (!w.map_with_keys(h, hb, {"key", "name"})) return false;
  w.choice_field(h, "key", hb, kHashKeys, hash.key);
  const bool named = hash.key == HashKey::header || hash.key == HashKey::cookie;
  if (named) {
    if (w.string_field(h, "name", hb, hash.name, true) && !is_token(hash.name)) {
      w.error(field(h, "name"), hb.at("name") + ": " + quote(hash.name) + " is not a valid name");
    }
  } else if (field(h, "name").IsDefined()) {
    w.error(field(h, "name"), hb.at("name") + ": only used with key header or cookie");
  }
  if (balance != Balance::hash) {
    w.warning(h, hb.label() + ": ignored unless balance is hash");
  }
  return true;
}

// False when `s` is not a map of sticky settings.
bool load_sticky(Walker& w, const yaml::Node& s, const Block& sb, Sticky& sticky) {
  if (!w.map_with_keys(s, sb, {"cookie"})) return false;
  if (w.string_field(s, "cookie", sb, sticky.cookie, true) && !is_token(sticky.cookie)) {
    w.error(field(s, "cookie"),
            sb.at("cookie") + ": " + quote(sticky.cookie) + " is not a valid name");
  }
  return true;
}

// queue, pool and timeouts: how a request waits for a connection to a
// server, which connections are kept for reuse, and how long each step may take.
void load_connection_settings(Walker& w, const yaml::Node& n, const Block& b, Backend& be) {
  if (const yaml::Node q = field(n, "queue"); q.IsDefined()) {
    const Block qb = b.child("queue");
    if (w.map_with_keys(q, qb, {"timeout", "max_size"})) {
      w.duration_field(q, "timeout", qb, be.queue.timeout, true);
      w.int_field(q, "max_size", qb, 0, 1'000'000'000, be.queue.max_size);
    }
  }
  if (const yaml::Node p = field(n, "pool"); p.IsDefined()) {
    const Block pb = b.child("pool");
    if (w.map_with_keys(p, pb,
                        {"max_idle_per_server", "idle_timeout", "reuse", "max_h2_connections"})) {
      w.int_field(p, "max_idle_per_server", pb, 0, 100'000, be.pool.max_idle_per_server);
      w.int_field(p, "max_h2_connections", pb, 1, 1024, be.pool.max_h2_connections);
      w.duration_field(p, "idle_timeout", pb, be.pool.idle_timeout);
      w.choice_field(p, "reuse", pb, kReuse, be.pool.reuse);
    }
  }
  w.bool_field(n, "tcp_keepalive", b, be.tcp_keepalive);
  if (const yaml::Node t = field(n, "timeouts"); t.IsDefined()) {
    const Block tb = b.child("timeouts");
    if (w.map_with_keys(t, tb, {"connect", "response", "idle"})) {
      w.duration_field(t, "connect", tb, be.timeouts.connect);
      w.duration_field(t, "response", tb, be.timeouts.response);
      w.duration_field(t, "idle", tb, be.timeouts.idle);
    }
  }
}

void load_retries(Walker& w, const yaml::Node& r, const Block& rb, Retries& retries) {
  if (!w.map_with_keys(r, rb,
                       {"attempts", "per_try_timeout", "max_body", "budget", "idempotency_key"})) {
    return;
  }
  w.int_field(r, "attempts", rb, 0, 10, retries.attempts);
  if (const yaml::Node pt = field(r, "per_try_timeout"); pt.IsDefined()) {
    Duration d{};
    if (w.duration_value(pt, rb.at("per_try_timeout"), false, d)) retries.per_try_timeout = d;
  }
  w.size_field(r, "max_body", rb, retries.max_body);
  w.int_field(r, "budget", rb, 0, 100, retries.budget);
  w.bool_field(r, "idempotency_key", rb, retries.idempotency_key);
}

// protocol: h2 is HTTP/2 over TLS, agreed by ALPN (RFC 9113 §3.2), so it
// needs a tls block and offers "h2" (alone when alpn is not given); h2c is
// cleartext HTTP/2 with prior knowledge (§3.3), which TLS contradicts.
void load_protocol(Walker& w, const yaml::Node& n, const Block& b, Backend& be) {
  const yaml::Node p = field(n, "protocol");
  if (!p.IsDefined()) return;
  if (!w.choice_field(n, "protocol", b, kProtocols, be.protocol)) return;
  if (be.protocol == BackendProtocol::h2) {
    if (!field(n, "tls").IsDefined()) {
      w.error(p, b.at("protocol") +
                     ": h2 is HTTP/2 over TLS and needs a tls block; use h2c for cleartext "
                     "HTTP/2");
    } else if (be.tls && be.tls->alpn.empty()) {
      be.tls->alpn = {"h2"};
    } else if (be.tls &&
               std::find(be.tls->alpn.begin(), be.tls->alpn.end(), "h2") == be.tls->alpn.end()) {
      w.error(field(field(n, "tls"), "alpn"),
              b.child("tls").at("alpn") + ": protocol h2 needs \"h2\" among the protocols offered");
    }
  } else if (be.protocol == BackendProtocol::h2c && field(n, "tls").IsDefined()) {
    w.error(p, b.at("protocol") +
                   ": h2c is cleartext HTTP/2 and cannot go with a tls block; use h2 for HTTP/2 "
                   "over TLS");
  }
}

// `key` is the backend's name, already checked by load_backends.
void load_backend(Walker& w, const yaml::Node& key, const yaml::Node& n, std::string_view base_dir,
                  Backend& be) {
  assert(key.IsScalar());
  be.name = key.Scalar();
  be.where = where(key);
  const Block b{"backend " + quote(be.name), ""};
  if (!w.map_with_keys(
          n, b,
          {"balance", "hash", "sticky", "servers", "queue", "pool", "tcp_keepalive", "timeouts",
           "retries", "health_check", "resolve_interval", "tls", "protocol"})) {
    return;
  }
  w.choice_field(n, "balance", b, kBalances, be.balance);
  if (const yaml::Node h = field(n, "hash"); h.IsDefined()) {
    Hash hash;
    if (load_hash(w, h, b.child("hash"), be.balance, hash)) be.hash = std::move(hash);
  }
  if (const yaml::Node s = field(n, "sticky"); s.IsDefined()) {
    Sticky sticky;
    if (load_sticky(w, s, b.child("sticky"), sticky)) be.sticky = std::move(sticky);
  }
  load_servers(w, n, b, be.servers);
  load_connection_settings(w, n, b, be);
  if (const yaml::Node r = field(n, "retries"); r.IsDefined()) {
    load_retries(w, r, b.child("retries"), be.retries);
  }
  if (const yaml::Node h = field(n, "health_check"); h.IsDefined()) {
    HealthCheck hc;
    load_health_check(w, h, b.child("health_check"), hc);
    be.health_check = std::move(hc);
  }
  w.duration_field(n, "resolve_interval", b, be.resolve_interval, true);
  if (const yaml::Node t = field(n, "tls"); t.IsDefined()) {
    BackendTls tls;
    if (load_backend_tls(w, t, b.child("tls"), base_dir, tls)) be.tls = std::move(tls);
  }
  load_protocol(w, n, b, be);
  if (be.protocol == BackendProtocol::http1) {
    if (const yaml::Node p = field(n, "pool"); p.IsMap()) {
      if (const yaml::Node m = field(p, "max_h2_connections"); m.IsDefined()) {
        w.warning(
            m, b.child("pool").at("max_h2_connections") + ": ignored unless protocol is h2 or h2c");
      }
    }
  }
}

}  // namespace

void load_backends(Walker& w, const yaml::Node& n, std::string_view base_dir,
                   std::vector<Backend>& backends) {
  if (!n.IsMap()) {
    w.error(n, "backends: expected a map of backend name to settings, got " + describe(n));
    return;
  }
  std::map<std::string, int> lines;  // name -> line of its first definition
  for (const auto& kv : n) {
    std::string name;
    if (!w.string_value(kv.first, "backends", name)) continue;
    if (!valid_name(name)) {
      w.error(kv.first, "backends: " + quote(name) +
                            " is not a valid name: names are 1 to 128 characters without "
                            "spaces or control characters");
      continue;
    }
    if (auto [it, fresh] = lines.emplace(name, where(kv.first).line); !fresh) {
      w.error(kv.first, "backends: backend '" + name + "' is defined twice (first on line " +
                            std::to_string(it->second) + ")");
      continue;
    }
    load_backend(w, kv.first, kv.second, base_dir, backends.emplace_back());
  }
}

}  // namespace sluice::config
