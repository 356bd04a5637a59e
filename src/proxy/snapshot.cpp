#include "proxy/snapshot.h"

#include "middleware/middleware_set.h"
#include "proxy/middleware_chain.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include "config/model.h"
#include "http/h1_encoder.h"
#include "proxy/destination_table.h"
#include "proxy/metrics_slots.h"
#include "proxy/reproxy.h"
#include "proxy/request_identity.h"
#include "proxy/tls_builder.h"

namespace sluice::proxy {

namespace {

std::uint64_t ms(config::Duration d) {
  return static_cast<std::uint64_t>(d.count());
}

balance::Algorithm algorithm_of(config::Balance b) {
  switch (b) {
    case config::Balance::least_conn:
      return balance::Algorithm::least_conn;
    case config::Balance::random:
      return balance::Algorithm::random;
    case config::Balance::p2c:
      return balance::Algorithm::p2c;
    case config::Balance::hash:
      return balance::Algorithm::hash;
    case config::Balance::round_robin:
      break;
  }
  return balance::Algorithm::round_robin;
}

void build_balancing(const config::Backend& bc, Backend& up) {
  std::vector<balance::ServerSpec> specs;
  for (std::size_t i = 0; i < bc.servers.size(); ++i) {
    specs.push_back({up.servers[i].address, bc.servers[i].weight, bc.servers[i].backup,
                     bc.servers[i].max_connections.value_or(0),
                     bc.health_check ? ms(bc.health_check->slow_start) : 0});
  }
  auto balancer = std::make_shared<balance::Balancer>(algorithm_of(bc.balance), std::move(specs),
                                                      static_cast<std::size_t>(bc.queue.max_size));
  up.queue_timeout_ms = ms(bc.queue.timeout);
  if (bc.sticky) {
    up.sticky_cookie = bc.sticky->cookie;
    for (auto& server : up.servers) {
      char id[17];
      std::snprintf(id, sizeof id, "%016llx",
                    static_cast<unsigned long long>(balance::hash_key(server.address)));
      server.sticky_id = id;
    }
  }
  up.balancer = std::move(balancer);
  if (bc.hash) {
    up.hash_source = bc.hash->key == config::HashKey::header   ? HashSource::header
                     : bc.hash->key == config::HashKey::cookie ? HashSource::cookie
                     : bc.hash->key == config::HashKey::path   ? HashSource::path
                                                               : HashSource::source_ip;
    up.hash_name = bc.hash->name;
  }
  if (bc.health_check) {
    const auto& hc = *bc.health_check;
    balance::HealthSpec h;
    h.http = hc.type == config::HealthCheckType::http;
    h.path = hc.path.empty() ? "/" : hc.path;
    h.host = hc.host.value_or("");
    h.expect_status.clear();
    for (const auto& r : hc.expect_status)
      h.expect_status.emplace_back(r.first, r.last);
    h.interval_ms = ms(hc.interval);
    h.timeout_ms = ms(hc.timeout);
    h.rise = hc.rise;
    h.fall = hc.fall;
    up.health = h;
  }
}

// Looks every server's name up now (blocking: start-up and reloads run on
// a thread of their own). A server whose name does not resolve is down: it
// has no address and no pool key, so it is never picked and can never
// borrow another server's connections; the resolver brings it in when its
// name resolves.
void resolve_servers(Backend& up, DestinationTable& destinations) {
  for (std::size_t i = 0; i < up.servers.size(); ++i) {
    balance::ServerState& state = up.balancer->state(static_cast<int>(i));
    const auto found = SocketAddress::look_up(up.servers[i].address);
    if (found.outcome == SocketAddress::Lookup::Outcome::found) {
      state.endpoint.store(
          destinations.endpoint_of(found.addresses.front(), up.servers[i].transport),
          std::memory_order_release);
      state.resolved.store(true, std::memory_order_release);
      continue;
    }
    state.resolved.store(false, std::memory_order_release);
    spdlog::error("backend '{}': cannot resolve server {} ({}); it is down and gets no requests",
                  up.name, up.servers[i].address, found.error);
  }
}

// The host part of "host:port" / "[v6]:port".
std::string host_of(const std::string& address) {
  if (!address.empty() && address.front() == '[') {
    const auto end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  const auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

bool is_ip_literal(const std::string& host) {
  return static_cast<bool>(SocketAddress::parse_numeric(host + ":0")) ||
         static_cast<bool>(SocketAddress::parse_numeric("[" + host + "]:0"));
}

// How the backend's servers are connected to: the transport every server
// shares, plus each server's SNI and the name its certificate must carry
// (the configured sni, else the server's host name; an IP literal is
// checked as an address and sends no SNI, RFC 6066 §3).
void build_transport(const config::Config& config, const config::Backend& bc, Backend& up,
                     TlsFindings* findings) {
  if (bc.tls) {
    up.transport.tls = true;
    up.transport.verify_peer = bc.tls->verify;
    up.transport.alpn = bc.tls->alpn;
    up.transport.client_certificate = bc.tls->certificate;
    up.transport.ca = bc.tls->ca;
    if (findings != nullptr) up.tls = build_backend_tls(config, bc, *findings);
  }
  for (auto& s : up.servers) {
    s.transport = up.transport;
    if (!bc.tls) continue;
    const std::string host = host_of(s.address);
    const bool literal = is_ip_literal(host);
    s.transport.sni = bc.tls->sni ? *bc.tls->sni : literal ? std::string() : host;
    s.verify_name = bc.tls->sni && !bc.tls->sni->empty() ? *bc.tls->sni : host;
  }
}

Backend build_backend(const config::Config& config, const config::Backend& bc,
                      DestinationTable& destinations, TlsFindings* findings) {
  Backend up;
  up.name = bc.name;
  up.connect_timeout_ms = ms(bc.timeouts.connect);
  up.response_timeout_ms = ms(bc.timeouts.response);
  up.idle_timeout_ms = ms(bc.timeouts.idle);
  up.pool.max_idle_per_server = static_cast<std::size_t>(std::max(0, bc.pool.max_idle_per_server));
  up.pool.idle_timeout_ms = ms(bc.pool.idle_timeout);
  up.pool.max_h2_connections = static_cast<std::size_t>(std::max(1, bc.pool.max_h2_connections));
  up.tcp_keepalive = bc.tcp_keepalive;
  up.pool.reuse = bc.pool.reuse == config::PoolReuse::never    ? ReuseMode::never
                  : bc.pool.reuse == config::PoolReuse::always ? ReuseMode::always
                                                               : ReuseMode::safe;
  up.retries.attempts = bc.retries.attempts;
  up.retries.per_try_timeout_ms = bc.retries.per_try_timeout ? ms(*bc.retries.per_try_timeout) : 0;
  up.retries.max_body = static_cast<std::size_t>(bc.retries.max_body);
  up.retries.budget_percent = bc.retries.budget;
  up.retries.idempotency_key = bc.retries.idempotency_key;
  up.resolve_interval_ms = ms(bc.resolve_interval);
  up.protocol = bc.protocol == config::BackendProtocol::h2    ? UpstreamProtocol::h2
                : bc.protocol == config::BackendProtocol::h2c ? UpstreamProtocol::h2c
                                                              : UpstreamProtocol::http1;
  for (const auto& sc : bc.servers) {
    BackendServer s;
    s.address = sc.address;
    s.send_proxy = sc.send_proxy == config::SendProxy::v1   ? ProxyHeaderVersion::v1
                   : sc.send_proxy == config::SendProxy::v2 ? ProxyHeaderVersion::v2
                                                            : ProxyHeaderVersion::none;
    up.servers.push_back(std::move(s));
  }
  build_transport(config, bc, up, findings);
  build_balancing(bc, up);
  resolve_servers(up, destinations);
  return up;
}

ForwardedPolicy build_forwarded(const config::Forwarded& fc) {
  ForwardedPolicy p;
  p.x_forwarded_for = fc.x_forwarded_for;
  p.x_forwarded_proto = fc.x_forwarded_proto;
  p.x_forwarded_host = fc.x_forwarded_host;
  for (const auto& text : fc.except) {
    p.except.add(text);  // checked at load
  }
  return p;
}

// TLS and SNI routing.
void build_listener_extras(const config::Config& config, const config::Listener& lc,
                           const Snapshot::BuildInputs& inputs, ListenerSettings& ls) {
  if (lc.tls && inputs.tls != nullptr && inputs.tls_findings != nullptr) {
    ls.tls = build_listener_tls(config, lc, *inputs.tls, *inputs.tls_findings, std::time(nullptr));
    if (lc.tls->client_auth) ls.client_subject_field = lc.tls->client_auth->header;
    ls.hsts = hsts_value(lc);
  }
  if (!lc.sni_routes.empty()) {
    auto table = std::make_shared<tls::ServerNameTable<std::size_t>>();
    for (const auto& r : lc.sni_routes) {
      for (std::size_t b = 0; b < config.backends.size(); ++b) {
        if (config.backends[b].name == r.backend) table->add(r.host, b);
      }
    }
    ls.sni_routes = std::move(table);
    ls.has_fallback = lc.backend.has_value();
  }
}

}  // namespace

namespace {

// TCP_DEFER_ACCEPT in the kernel's unit, whole seconds (rounded up: 500ms
// still defers). Absent: on for http, whose clients always speak first
// (a request, a TLS ClientHello, a PROXY header, the h2 preface), and
// off for tcp, which may carry a protocol whose server speaks first.
unsigned defer_accept_seconds(const config::Listener& lc) {
  if (!lc.defer_accept) return lc.protocol == config::Protocol::http ? 1 : 0;
  return static_cast<unsigned>((lc.defer_accept->count() + 999) / 1000);
}

// Each definition's middleware, kept from the previous build when it is
// unchanged.
std::vector<std::shared_ptr<middleware::Middleware>> build_middlewares(
    const config::Config& config, const Snapshot::BuildInputs& inputs, unsigned workers) {
  middleware::MiddlewareCache fresh;
  middleware::MiddlewareCache& cache = inputs.middlewares ? *inputs.middlewares : fresh;
  std::vector<std::string> errors;
  auto built = cache.build(config.middlewares, middleware::BuildContext{workers}, errors);
  if (inputs.middleware_errors) {
    inputs.middleware_errors->insert(inputs.middleware_errors->end(), errors.begin(), errors.end());
  }
  return built;
}

// The chain of a 'middlewares' list. A middleware that could not be built
// is not skipped: its place answers 503, so that a broken forward_auth
// never lets requests through.
std::shared_ptr<const MiddlewareChain> chain_of(
    const config::Config& config, const std::vector<std::shared_ptr<middleware::Middleware>>& built,
    const std::vector<std::string>& names) {
  auto chain = std::make_shared<MiddlewareChain>();
  for (const std::string& name : names) {
    for (std::size_t i = 0; i < config.middlewares.size(); ++i) {
      if (config.middlewares[i].name != name) continue;
      chain->items.push_back(built[i] ? built[i] : unavailable_middleware());
      chain->names.push_back(name);
      chain->wants_body = std::max(chain->wants_body, chain->items.back()->wants_body());
    }
  }
  return chain;
}

}  // namespace

const std::shared_ptr<const ListenerSettings>& Snapshot::in_slot(std::size_t slot) const {
  static const std::shared_ptr<const ListenerSettings> none;
  return slot < slots.size() ? slots[slot] : none;
}
// HTTP/2 settings of an http listener: the codec's limits and timeouts.
void set_http2(const config::Listener& lc, ListenerSettings& ls) {
  const config::Http2& h = lc.http2;
  ls.h2 = ls.http && h.enabled;
  http::H2Limits& l = ls.h2_limits;
  l.max_concurrent_streams = h.max_concurrent_streams;
  l.initial_window_size = h.initial_window_size;
  l.connection_window_size = h.connection_window_size;
  l.max_frame_size = h.max_frame_size;
  l.max_header_list_size = h.max_header_list_size > 0 ? h.max_header_list_size : lc.max_header_size;
  l.max_header_fields = static_cast<std::uint32_t>(lc.max_header_count);
  l.max_continuations = h.max_continuations;
  l.reset_burst = h.reset_budget.burst;
  l.reset_per_second = h.reset_budget.per_second;
  l.control_burst = h.control_frame_budget.burst;
  l.control_per_second = h.control_frame_budget.per_second;
  ls.h2_stream_idle_timeout_ms = static_cast<std::uint64_t>(h.stream_idle_timeout.count());
  ls.h2_zero_window_timeout_ms = static_cast<std::uint64_t>(h.zero_window_timeout.count());
}

std::shared_ptr<const Snapshot> Snapshot::build(const config::Config& config,
                                                DestinationTable& destinations,
                                                const BuildInputs& inputs) {
  auto snap = std::make_shared<Snapshot>();
  snap->generation = inputs.generation;
  snap->workers = config.workers > 0 ? static_cast<unsigned>(config.workers)
                                     : std::max(1u, std::thread::hardware_concurrency());
  snap->busy_poll_ns = static_cast<std::uint64_t>(config.busy_poll.count()) * 1000;
  const auto forwarded = std::make_shared<const ForwardedPolicy>(build_forwarded(config.forwarded));
  const auto middlewares = build_middlewares(config, inputs, snap->workers);
  snap->identity = std::make_shared<const IdentityPolicy>(build_identity_policy(config));
  MetricsSlots metrics;
  if (inputs.series != nullptr) metrics = assign_metrics_slots(config, *inputs.series);
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& lc = config.listeners[i];
    auto ls = std::make_shared<ListenerSettings>();
    ls->name = lc.name;
    ls->listen = lc.listen;
    ls->http = lc.protocol == config::Protocol::http;
    ls->header_timeout_ms = static_cast<std::uint64_t>(lc.timeouts.header.count());
    ls->idle_timeout_ms = static_cast<std::uint64_t>(lc.timeouts.idle.count());
    ls->body_timeout_ms = ls->idle_timeout_ms;
    ls->request_timeout_ms = static_cast<std::uint64_t>(lc.timeouts.request.count());
    ls->min_body_bytes = lc.min_body_rate.bytes;
    ls->min_body_per_ms = static_cast<std::uint64_t>(lc.min_body_rate.per.count());
    ls->max_request_line = lc.max_request_line;
    ls->max_head_bytes = lc.max_header_size;
    ls->max_fields = lc.max_header_count;
    ls->max_body_bytes = lc.max_body_size;
    if (lc.max_connections) ls->max_connections = static_cast<std::size_t>(*lc.max_connections);
    ls->keep_alive_header = lc.keep_alive_header;
    ls->proxy_protocol = lc.proxy_protocol;
    ls->defer_accept_s = defer_accept_seconds(lc);
    ls->keep_underscore_fields = lc.keep_underscore_fields;
    ls->keep_escaped_slashes = lc.escaped_slashes == config::EscapedSlashes::keep;
    set_http2(lc, *ls);
    for (std::size_t b = 0; b < config.backends.size(); ++b) {
      if (lc.backend && config.backends[b].name == *lc.backend) ls->backend_index = b;
    }
    ls->keep_alive_fields = http::keep_alive_announcement(ls->idle_timeout_ms / 1000);
    ls->index = i;
    if (i < metrics.listeners.size()) ls->metrics_slot = metrics.listeners[i];
    ls->slot = i < inputs.slot_of.size() ? inputs.slot_of[i] : i;
    ls->forwarded = forwarded;
    ls->identity = snap->identity;
    build_listener_extras(config, lc, inputs, *ls);
    if (!lc.middlewares.empty()) ls->middlewares = chain_of(config, middlewares, lc.middlewares);
    if (snap->slots.size() <= ls->slot) snap->slots.resize(ls->slot + 1);
    snap->slots[ls->slot] = ls;
    snap->listeners.push_back(std::move(ls));
  }
  for (const config::Route& r : config.routes) {
    snap->route_middlewares.push_back(r.middlewares ? chain_of(config, middlewares, *r.middlewares)
                                                    : nullptr);
  }
  snap->routes = route::RouteTable::build(config, inputs.route_errors, inputs.regexes,
                                          inputs.series != nullptr ? &metrics.routes : nullptr);
  snap->route_reproxy = build_reproxy_plans(config, destinations, snap->workers);
  for (std::size_t b = 0; b < config.backends.size(); ++b) {
    const auto& bc = config.backends[b];
    auto up =
        std::make_shared<Backend>(build_backend(config, bc, destinations, inputs.tls_findings));
    if (b < metrics.backends.size()) {
      up->metrics_slot = metrics.backends[b];
      for (std::size_t s = 0; s < up->servers.size(); ++s)
        up->servers[s].metrics_slot = metrics.servers[b][s];
    }
    for (unsigned w = 0; w < snap->workers; ++w)
      up->per_worker.push_back({up->balancer->make_worker_state(w)});
    snap->backends.push_back(std::move(up));
  }
  if (inputs.series != nullptr)
    snap->metrics = metrics_layout(config, metrics, *snap, *inputs.series);
  return snap;
}

}  // namespace sluice::proxy
