// The immutable runtime form of one configuration: per-listener settings and
// the route table, built once per load and shared read-only by all workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/live_count.h"
#include "http/h2_connection.h"
#include "proxy/backend.h"
#include "proxy/forwarded_headers.h"
#include "route/route_table.h"
#include "tls/server_name_table.h"

namespace sluice::tls {
class ServerContext;
}
namespace sluice::observe {
class SeriesRegistry;
struct MetricsLayout;
}  // namespace sluice::observe
namespace sluice::middleware {
class MiddlewareCache;
}

namespace sluice::config {
struct Config;
}

namespace sluice::proxy {

struct MiddlewareChain;
struct ReproxyPlan;
struct IdentityPolicy;

struct ListenerSettings {
  std::string name;
  std::string listen;                        // "host:port" as configured
  bool http = true;                          // false: a TCP (layer 4) listener
  std::uint64_t header_timeout_ms = 10'000;  // first byte to end of the request head
  std::uint64_t idle_timeout_ms = 60'000;    // between requests on a keep-alive connection
  std::uint64_t body_timeout_ms = 60'000;    // between bytes of a request body
  std::uint64_t request_timeout_ms = 0;      // first byte to the end of the body; 0 = none
  std::uint64_t min_body_bytes = 0;          // a body brings at least this much...
  std::uint64_t min_body_per_ms = 30'000;    // ...in every this long spent waiting for it
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_head_bytes = 16 * 1024;
  std::size_t max_fields = 100;
  std::optional<std::uint64_t> max_body_bytes;  // 413 above this
  std::size_t max_connections = SIZE_MAX;       // open client connections; SIZE_MAX: no cap
  bool proxy_protocol = false;  // a PROXY v1/v2 header comes first on every connection
  // TCP_DEFER_ACCEPT on its sockets, whole seconds; 0: off (config::Listener).
  unsigned defer_accept_s = 0;
  std::size_t backend_index = 0;   // tcp listeners: the backend they forward to
  bool keep_alive_header = false;  // announce Connection: keep-alive + Keep-Alive: timeout=N
  std::string keep_alive_fields;   // the two lines above, prepared
  // Forward request header fields with '_' in their names (else dropped).
  bool keep_underscore_fields = false;
  std::size_t index = 0;  // position among the configuration's listeners (the route table's)
  std::size_t slot = 0;   // which listening sockets serve it; stable across reloads
  std::uint32_t metrics_slot = UINT32_MAX;           // its series (observe/); UINT32_MAX: none
  std::shared_ptr<const ForwardedPolicy> forwarded;  // shared by every listener
  std::shared_ptr<const IdentityPolicy> identity;    // request ids, tracing; shared too

  bool keep_escaped_slashes = false;  // %2F, %5C in paths: forwarded encoded instead of 400

  // TLS: null for plain text. Shared by every worker; its certificates
  // may be swapped on their own (ServerContext::replace_certificates).
  std::shared_ptr<tls::ServerContext> tls;
  // Carries a verified client certificate's subject to backends; always
  // removed from what clients send. Empty: no client certificates.
  std::string client_subject_field;
  std::string hsts;  // Strict-Transport-Security value for responses over TLS; empty: none
  // tcp listeners routing by SNI: server name -> backend index; null: none.
  // Without a match, backend_index when has_fallback, else the client is closed.
  std::shared_ptr<const tls::ServerNameTable<std::size_t>> sni_routes;
  bool has_fallback = true;

  // HTTP/2: h2 by ALPN on TLS, h2c by the connection preface on plain
  // text; false: HTTP/1 only.
  bool h2 = false;
  http::H2Limits h2_limits;
  std::uint64_t h2_stream_idle_timeout_ms = 300'000;
  std::uint64_t h2_zero_window_timeout_ms = 30'000;

  // The middlewares of routes that name none of their own; null: none.
  std::shared_ptr<const MiddlewareChain> middlewares;
};

class DestinationTable;
struct TlsAssets;
struct TlsFindings;

// Everything a reload replaces. Workers hold the current snapshot; a
// request holds only the pieces it uses (its listener's settings, its
// route, its backend), each reference-counted, so an old snapshot and its
// route table are freed as soon as the last worker lets go of them, even
// while connections that started under them go on.
struct Snapshot {
  Snapshot() = default;
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  std::uint64_t generation = 0;    // 1 for the configuration loaded at start
  unsigned workers = 1;            // resolved: never 0
  std::uint64_t busy_poll_ns = 0;  // each worker's longest poll before it sleeps
  std::vector<std::shared_ptr<const ListenerSettings>> listeners;  // configuration order
  std::vector<std::shared_ptr<const ListenerSettings>> slots;      // by slot; null: no listener
  std::shared_ptr<const route::RouteTable> routes;
  std::vector<std::shared_ptr<const Backend>> backends;  // configuration order
  // By route, in configuration order: the route's own middlewares (an
  // empty chain when it names none on purpose); null: its listener's apply.
  std::vector<std::shared_ptr<const MiddlewareChain>> route_middlewares;
  // By route, in configuration order: its reproxy settings; null: none.
  std::vector<std::shared_ptr<const ReproxyPlan>> route_reproxy;
  std::shared_ptr<const IdentityPolicy> identity;  // request ids and tracing (request_identity.h)
  // What the workers' metrics slots stand for under this configuration;
  // null: metrics are off.
  std::shared_ptr<const observe::MetricsLayout> metrics;

  // The settings of the listener served by `slot`'s sockets, or null.
  const std::shared_ptr<const ListenerSettings>& in_slot(std::size_t slot) const;
  // Snapshots in memory, in this process: what /debug/memory reports.
  static std::size_t alive() { return LiveCount<Snapshot>::alive(); }
  LiveCount<Snapshot> live;

  // Resolves server host names (blocking: start-up and reloads only) and
  // gives each server address its pool key from `destinations`.
  // `slot_of[i]` is the slot of the configuration's listener i; `regexes`
  // carries compiled patterns over from the previous build. Route errors
  // (regexes RE2 rejects) go to `route_errors`.
  struct BuildInputs {
    std::vector<std::size_t> slot_of;
    std::uint64_t generation = 1;
    route::RegexCache* regexes = nullptr;
    std::vector<route::RouteFinding>* route_errors = nullptr;
    // TLS: the process's assets and where problems go (null: no TLS is
    // built, and listeners with a tls block serve nothing).
    TlsAssets* tls = nullptr;
    TlsFindings* tls_findings = nullptr;
    // Middlewares kept from the previous build (null: all are built anew),
    // and where a middleware that cannot be built is reported (null: not
    // reported; its routes then answer 503).
    middleware::MiddlewareCache* middlewares = nullptr;
    std::vector<std::string>* middleware_errors = nullptr;
    // Where listeners, routes, backends and servers get their metrics
    // slots (proxy/metrics_slots.h); null: none, and no layout.
    observe::SeriesRegistry* series = nullptr;
  };
  static std::shared_ptr<const Snapshot> build(const config::Config& config,
                                               DestinationTable& destinations,
                                               const BuildInputs& inputs);
};

}  // namespace sluice::proxy
