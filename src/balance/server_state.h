// What every worker knows about one server while it runs: requests in
// flight, health, passive failures, response latency. Shared by all
// workers through atomics (never a lock on the request path).
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::balance {

// Set at run time by an operator (the admin API drives it): a draining
// server takes no new clients but keeps the sticky ones it has; a disabled
// one takes nothing.
enum class AdminState : std::uint8_t { enabled, draining, disabled };

struct ServerState {
  std::atomic<AdminState> admin{AdminState::enabled};
  std::atomic<int> in_flight{0};                   // requests being served, all workers
  std::atomic<bool> healthy{true};                 // active checks (true without checks)
  std::atomic<std::uint64_t> ejected_until_ms{0};  // passive ejection (loop clock)
  std::atomic<int> consecutive_failures{0};
  std::atomic<int> ejections{0};              // in a row: the back-off doubles
  std::atomic<std::uint32_t> latency_us{0};   // moving average of time to response head
  std::atomic<std::uint64_t> up_since_ms{0};  // when checks last brought it back up

  // Healthy and not ejected at `now_ms`.
  bool usable(std::uint64_t now_ms) const {
    return healthy.load(std::memory_order_relaxed) &&
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
