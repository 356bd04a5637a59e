// A count written by one thread (its worker) and read by another (a
// scrape). The writer does a plain load and store, not a locked
// read-modify-write: nothing shared is written on the request path, and a
// reader sees each value whole (std::atomic, relaxed), never a torn one.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::observe {

class Counter {
 public:
  // Only the owning thread calls add() and set().
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  // Any thread.
  std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace sluice::observe
