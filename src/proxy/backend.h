// A backend as the data path sees it: its servers with resolved addresses,
// its timeouts and pool settings. Built from the configuration with each
// snapshot; the connection pools it uses outlive it (they are keyed by
// destination, not by backend or route).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "balance/balancer.h"
#include "balance/health_checker.h"
#include "core/address.h"
#include "core/live_count.h"

namespace sluice::tls {
class ClientContext;
}

namespace sluice::proxy {

// Identifies one real destination: an address and the transport
// parameters connections to it are made with (DestinationTable interns the
// pair). Two backends naming the same server the same way share its pooled
// connections.
using DestinationId = std::uint32_t;

// What besides the address makes two connections to a server
// interchangeable or not: a connection set up with one SNI, trust or
// client certificate must never carry a request meant for another. All
// empty and off today (plain TCP); a backend's TLS settings fill it later.
// Compared field by field.
struct TransportParams {
  bool tls = false;                // connections speak TLS
  std::string sni;                 // server name sent in the handshake; empty: none
  bool verify_peer = false;        // the server's certificate chain and name are checked
  std::vector<std::string> alpn;   // protocols offered, most preferred first
  std::string client_certificate;  // certificate (file) presented to the server; empty: none
  std::string ca;                  // trusted CAs (file) when verifying; empty: the system's
  friend bool operator==(const TransportParams&, const TransportParams&) = default;
};

enum class ProxyHeaderVersion : std::uint8_t { none, v1, v2 };

// Where a server's connections go (its address and pool key) is not here
// but in its balance::ServerState, since the resolver may change it while
// the snapshot lives.
struct BackendServer {
  std::string address;    // as configured, for logs
  std::string sticky_id;  // the sticky cookie's value for this server (no address in it)
  ProxyHeaderVersion send_proxy = ProxyHeaderVersion::none;  // sent first on each connection
  // The backend's transport with this server's SNI: with its address, the
  // server's pool key.
  TransportParams transport;
  std::string verify_name;  // TLS: the name (or IP literal) its certificate must carry
  std::uint32_t metrics_slot = UINT32_MAX;  // its series (observe/); UINT32_MAX: none
};

// pool.reuse: which requests may take an idle pooled connection.
enum class ReuseMode : std::uint8_t {
  never,   // a new connection per request, closed after it
  safe,    // a request we could not resend takes one only if it proved alive very recently
  always,  // any request takes any idle connection
};

struct PoolSettings {
  std::size_t max_idle_per_server = 64;
  std::size_t max_h2_connections = 16;  // per server and worker (h2_upstream_pool.h)
  std::uint64_t idle_timeout_ms = 60'000;
  ReuseMode reuse = ReuseMode::safe;
};

struct RetryPolicy {
  int attempts = 2;                      // extra tries after the first
  std::uint64_t per_try_timeout_ms = 0;  // 0: the response timeout
  std::size_t max_body = 64 * 1024;      // request bodies kept for a resend
  int budget_percent = 20;               // retries in flight vs. requests in flight
  bool idempotency_key = false;          // Idempotency-Key makes a request resendable
};

// Requests in flight to one backend, over all workers: the retry budget.
struct BackendLoad {
  std::atomic<int> active{0};
  std::atomic<int> retrying{0};
};

// What the servers speak (`protocol`): the exchange's upstream codec.
enum class UpstreamProtocol : std::uint8_t {
  http1,  // HTTP/1.1, a pooled connection per exchange
  h2,     // HTTP/2 over TLS (ALPN h2), a stream per exchange on shared connections
  h2c,    // HTTP/2 over TCP with prior knowledge (RFC 9113 §3.3)
};

// What `balance: hash` hashes.
enum class HashSource : std::uint8_t { source_ip, header, cookie, path };

struct Backend {
  std::string name;
  std::uint32_t metrics_slot = UINT32_MAX;  // its series (observe/); UINT32_MAX: none
  std::vector<BackendServer> servers;       // same order as the balancer's
  std::shared_ptr<const balance::Balancer> balancer;
  HashSource hash_source = HashSource::source_ip;
  std::string hash_name;  // header or cookie name
  std::optional<balance::HealthSpec> health;
  std::uint64_t queue_timeout_ms = 5'000;  // waiting for a server at max_connections
  std::string sticky_cookie;               // empty: no sticky sessions
  std::uint64_t connect_timeout_ms = 3'000;
  std::uint64_t response_timeout_ms = 30'000;  // request sent -> first response byte
  std::uint64_t idle_timeout_ms = 60'000;      // between bytes while exchanging
  PoolSettings pool;
  RetryPolicy retries;
  bool tcp_keepalive = false;  // SO_KEEPALIVE: TCP probes, unrelated to HTTP keep-alive
  std::uint64_t resolve_interval_ms = 30'000;  // server host names looked up again; 0: never
  TransportParams transport;  // how its servers are connected to (each server's adds its SNI)
  UpstreamProtocol protocol = UpstreamProtocol::http1;
  std::shared_ptr<const tls::ClientContext> tls;  // null: plain TCP
  std::shared_ptr<BackendLoad> load = std::make_shared<BackendLoad>();

  // Round-robin positions and random state, one per worker: each worker
  // touches only its own (a cache line apart), so the backend stays
  // shareable.
  struct alignas(64) WorkerBalance {
    balance::Balancer::WorkerState state;
  };
  mutable std::vector<WorkerBalance> per_worker;
  LiveCount<Backend> live;  // backends in memory: the current snapshot's, and pinned ones
  balance::Balancer::WorkerState& balance_state(std::size_t worker) const {
    return per_worker[worker].state;
  }
};

}  // namespace sluice::proxy
