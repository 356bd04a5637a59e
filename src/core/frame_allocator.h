// Coroutine frames come from per-thread free lists sorted by size class, so a
// request that starts a few coroutines does not reach malloc once warm. What
// a burst left in the lists is freed when trim_unused_frames() sees it unused
// (the worker calls it once traffic drops). Frames of a page or more are
// mapped pages, not malloc memory (see frame_allocator.cpp).
#pragma once

#include <cstddef>

namespace sluice {

void* allocate_frame(std::size_t bytes);
void free_frame(void* p, std::size_t bytes) noexcept;

// Frees the frames cached on the calling thread that no allocation needed
// since the previous call on this thread, keeping up to `keep_per_class` of
// each size class. Returns the bytes freed. Never per request: it walks
// every size class.
std::size_t trim_unused_frames(std::size_t keep_per_class);
// Bytes of frames freed on the calling thread since the previous call
// because their class's list was full.
std::size_t take_frame_overflow_bytes();
// Bytes of frames cached on the calling thread.
std::size_t cached_frame_bytes();

// Mixed into promise types: routes frame allocation to the pools above.
struct FramePooled {
  static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { free_frame(p, bytes); }
};

}  // namespace sluice
