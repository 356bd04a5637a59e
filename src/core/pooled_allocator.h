// A standard allocator over the worker thread's pooled free lists
// (frame_allocator.h), for the small containers a request fills and drops
// (HTTP/2 field lists, stream maps): from glibc each of their blocks costs a
// malloc and a free, a few hundred instructions per request. The size is
// known on both sides, so blocks carry no header.
#pragma once

#include <cstddef>

#include "core/frame_allocator.h"

namespace sluice {

template <typename T>
struct PooledAllocator {
  using value_type = T;

  PooledAllocator() noexcept = default;
  template <typename U>
  PooledAllocator(const PooledAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(allocate_frame(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { free_frame(p, n * sizeof(T)); }

  template <typename U>
  friend bool operator==(const PooledAllocator&, const PooledAllocator<U>&) noexcept {
    return true;
  }
};

}  // namespace sluice
