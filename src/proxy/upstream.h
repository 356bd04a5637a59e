// A backend as the data path sees it: its servers with resolved addresses,
// its timeouts and pool settings. Built from the configuration with each
// snapshot; the connection pools it uses outlive it (they are keyed by
// destination, not by backend or route).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/address.h"

namespace sluice::proxy {

// Identifies one real destination (today: address; later also TLS
// parameters). Two backends naming the same server share its pooled
// connections.
using DestinationId = std::uint32_t;

struct UpstreamServer {
  std::string address;  // as configured, for logs
  SocketAddress addr;   // resolved when the configuration was loaded
  bool resolved = false;
  DestinationId destination = 0;
};

struct PoolSettings {
  std::size_t max_idle_per_server = 64;
  std::uint64_t idle_timeout_ms = 60'000;
};

struct Upstream {
  std::string name;
  std::vector<UpstreamServer> servers;
  std::uint64_t connect_timeout_ms = 3'000;
  std::uint64_t response_timeout_ms = 30'000;  // request sent -> first response byte
  std::uint64_t idle_timeout_ms = 60'000;      // between bytes while exchanging
  PoolSettings pool;
  bool tcp_keepalive = false;  // SO_KEEPALIVE: TCP probes, unrelated to HTTP keep-alive
};

}  // namespace sluice::proxy
