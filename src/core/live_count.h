// Counts the live objects of one kind, for memory introspection: a member
// that follows its owner's construction, copies and destruction. Relaxed
// atomics: a count read while objects come and go is approximate.
#pragma once

#include <atomic>
#include <cstddef>

namespace sluice {

template <typename Owner>
class LiveCount {
 public:
  LiveCount() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }
  LiveCount(const LiveCount&) noexcept : LiveCount() {}
  LiveCount& operator=(const LiveCount&) noexcept { return *this; }
  ~LiveCount() { count_.fetch_sub(1, std::memory_order_relaxed); }

  static std::size_t alive() noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  static inline std::atomic<std::size_t> count_{0};
};

}  // namespace sluice
