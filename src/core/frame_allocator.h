// Coroutine frames come from per-thread free lists sorted by size class, so a
// request that starts a few coroutines does not reach malloc once warm.
#pragma once

#include <cstddef>

namespace sluice {

void* allocate_frame(std::size_t bytes);
void free_frame(void* p, std::size_t bytes) noexcept;

// Mixed into promise types: routes frame allocation to the pools above.
struct FramePooled {
  static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { free_frame(p, bytes); }
};

}  // namespace sluice
