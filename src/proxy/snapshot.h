// The immutable runtime form of one configuration: per-listener settings and
// the route table, built once per load and shared read-only by all workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/forwarded_headers.h"
#include "proxy/upstream.h"
#include "route/route_table.h"

namespace sluice::config {
struct Config;
}

namespace sluice::proxy {

struct ListenerSettings {
  std::string name;
  std::string listen;                        // "host:port" as configured
  bool http = true;                          // false: a TCP (layer 4) listener
  std::uint64_t header_timeout_ms = 10'000;  // first byte to end of the request head
  std::uint64_t idle_timeout_ms = 60'000;    // between requests on a keep-alive connection
  std::uint64_t body_timeout_ms = 60'000;    // between bytes of a request body
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_head_bytes = 16 * 1024;
  std::size_t max_fields = 100;
  std::optional<std::uint64_t> max_body_bytes;  // 413 above this
  bool proxy_protocol = false;     // a PROXY v1/v2 header comes first on every connection
  std::size_t backend_index = 0;   // tcp listeners: the backend they forward to
  bool keep_alive_header = false;  // announce Connection: keep-alive + Keep-Alive: timeout=N
  std::string keep_alive_fields;   // the two lines above, prepared
};

class DestinationTable;

struct Snapshot {
  unsigned workers = 1;                     // resolved: never 0
  std::vector<ListenerSettings> listeners;  // same order as the configuration
  std::shared_ptr<const route::RouteTable> routes;
  std::vector<Upstream> upstreams;  // same order as the configuration's backends
  ForwardedPolicy forwarded;
  // Round-robin positions and random state, [worker][upstream]: each worker
  // touches only its own row, so the snapshot stays shareable.
  mutable std::vector<std::vector<balance::Balancer::WorkerState>> balance_states;
  balance::Balancer::WorkerState& balance_state(std::size_t worker, std::size_t upstream) const {
    return balance_states[worker][upstream];
  }

  // Resolves server host names (blocking: start-up and reloads only) and
  // gives each server address its pool key from `destinations`.
  static std::shared_ptr<const Snapshot> build(const config::Config& config,
                                               DestinationTable& destinations);
};

}  // namespace sluice::proxy
