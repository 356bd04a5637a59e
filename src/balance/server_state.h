// What every worker knows about one server while it runs: requests in
// flight, health, passive failures, response latency. Shared by all
// workers through atomics (never a lock on the request path).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/address.h"

namespace sluice::balance {

// Where a server's name resolves: the address new connections go to and
// the key its idle connections are pooled under. Made once per distinct
// address and kept for the life of the process (proxy::DestinationTable
// owns them), so a pointer to one never dangles.
struct Endpoint {
  SocketAddress addr;
  std::uint32_t pool_key = 0;
};

// Set at run time by an operator (the admin API drives it): a draining
// server takes no new clients but keeps the sticky ones it has; a disabled
// one takes nothing.
enum class AdminState : std::uint8_t { enabled, draining, disabled };

struct ServerState {
  std::atomic<AdminState> admin{AdminState::enabled};
  // Its share, relative to the others': the configured weight until an
  // operator sets another (Balancer::set_weight). 0: no new requests by
  // balancing (sticky ones still come), as HAProxy's `set weight 0`.
  std::atomic<int> weight{1};
  std::atomic<int> in_flight{0};                   // requests being served, all workers
  std::atomic<bool> healthy{true};                 // active checks (true without checks)
  std::atomic<std::uint64_t> ejected_until_ms{0};  // passive ejection (loop clock)
  std::atomic<int> consecutive_failures{0};
  std::atomic<int> ejections{0};              // in a row: the back-off doubles
  std::atomic<std::uint32_t> latency_us{0};   // moving average of time to response head
  std::atomic<std::uint64_t> up_since_ms{0};  // when checks last brought it back up
  // Ejections ever, while the server stays configured (/metrics).
  std::atomic<std::uint64_t> ejections_total{0};
  // Where it resolves now (null: it never has). Replaced, never cleared,
  // when a lookup finds another address; `resolved` says whether the name
  // still resolves at all. Published by the snapshot build and the resolver.
  std::atomic<const Endpoint*> endpoint{nullptr};
  std::atomic<bool> resolved{true};  // false: its name does not resolve, so it is down

  // Resolved, healthy and not ejected at `now_ms`.
  bool usable(std::uint64_t now_ms) const {
    return resolved.load(std::memory_order_relaxed) && healthy.load(std::memory_order_relaxed) &&
           ejected_until_ms.load(std::memory_order_relaxed) <= now_ms;
  }
  // May the balancer choose it for a request that names no server?
  bool takes_new(std::uint64_t now_ms) const {
    return usable(now_ms) && admin.load(std::memory_order_relaxed) == AdminState::enabled;
  }
  // May a request that names it (a sticky cookie) go there?
  bool takes_sticky(std::uint64_t now_ms) const {
    return usable(now_ms) && admin.load(std::memory_order_relaxed) != AdminState::disabled;
  }
  void record_latency(std::uint32_t us) {
    const std::uint32_t old = latency_us.load(std::memory_order_relaxed);
    latency_us.store(old == 0 ? us : old - old / 8 + us / 8, std::memory_order_relaxed);
  }
};

}  // namespace sluice::balance
