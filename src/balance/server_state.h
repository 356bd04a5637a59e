// What every worker knows about one server while it runs: requests in
// flight, health, passive failures, response latency. Shared by all
// workers through atomics (never a lock on the request path).
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::balance {

struct ServerState {
  std::atomic<int> in_flight{0};                   // requests being served, all workers
  std::atomic<bool> healthy{true};                 // active checks (true without checks)
  std::atomic<std::uint64_t> ejected_until_ms{0};  // passive ejection (loop clock)
  std::atomic<int> consecutive_failures{0};
  std::atomic<int> ejections{0};             // in a row: the back-off doubles
  std::atomic<std::uint32_t> latency_us{0};  // moving average of time to response head

  // Healthy and not ejected at `now_ms`.
  bool usable(std::uint64_t now_ms) const {
    return healthy.load(std::memory_order_relaxed) &&
           ejected_until_ms.load(std::memory_order_relaxed) <= now_ms;
  }
  void record_latency(std::uint32_t us) {
    const std::uint32_t old = latency_us.load(std::memory_order_relaxed);
    latency_us.store(old == 0 ? us : old - old / 8 + us / 8, std::memory_order_relaxed);
  }
};

}  // namespace sluice::balance
