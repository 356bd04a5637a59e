#include "core/frame_allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <new>
#include <utility>

namespace sluice {

#if defined(__SANITIZE_ADDRESS__)
// Under ASan every frame goes to the real allocator so use-after-free of a
// frame is caught instead of hidden by the pool.
void* allocate_frame(std::size_t bytes) {
  return ::operator new(bytes);
}
void free_frame(void* p, std::size_t) noexcept {
  ::operator delete(p);
}
std::size_t trim_unused_frames(std::size_t) {
  return 0;
}
std::size_t take_frame_overflow_bytes() {
  return 0;
}
std::size_t cached_frame_bytes() {
  return 0;
}
#else
namespace {

// Classes 16 bytes apart, each class's frames 8 bytes short of a multiple
// of 16: glibc adds an 8-byte header and rounds chunks to 16, so a frame
// fills its chunk exactly. (Coarser classes cost an idle connection's frames
// tens of bytes each, for every idle connection.)
constexpr std::size_t kClassBytes = 16;
constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kClasses = 1024;  // frames up to 16 KiB are pooled
constexpr std::uint16_t kMaxCachedPerClass = 1024;
// Frames of a page or more (a request's parser fields, an exchange) are
// pages of their own, not malloc memory: made during a burst, they would
// sit among the idle connections' frames made at the same time, and once
// freed leave holes whose edge pages no trim can return.
constexpr std::size_t kMappedFrameBytes = 4096;

std::size_t size_class(std::size_t bytes) {
  return (bytes + kHeaderBytes + kClassBytes - 1) / kClassBytes;
}

std::size_t class_bytes(std::size_t c) {
  return c * kClassBytes - kHeaderBytes;
}

std::size_t whole_pages(std::size_t bytes) {
  static const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

void* allocate_memory(std::size_t bytes) {
  if (bytes < kMappedFrameBytes) return ::operator new(bytes);
  void* p = ::mmap(nullptr, whole_pages(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void free_memory(void* p, std::size_t bytes) noexcept {
  if (bytes < kMappedFrameBytes) {
    ::operator delete(p);
  } else {
    ::munmap(p, whole_pages(bytes));
  }
}

struct FreeNode {
  FreeNode* next;
};

struct FramePools {
  std::array<FreeNode*, kClasses> heads{};
  std::array<std::uint16_t, kClasses> counts{};
  // Fewest frames cached in each class since the last trim: that many went
  // unused all along.
  std::array<std::uint16_t, kClasses> low_water{};
  std::size_t overflow_bytes = 0;  // see take_frame_overflow_bytes()
  ~FramePools();
};

thread_local FramePools pools;

FramePools::~FramePools() {
  for (std::size_t c = 0; c < kClasses; ++c) {
    while (FreeNode* head = heads[c]) {
      heads[c] = head->next;
      free_memory(head, class_bytes(c));
    }
  }
}

}  // namespace

void* allocate_frame(std::size_t bytes) {
  const std::size_t c = size_class(bytes);
  if (c >= kClasses) return allocate_memory(bytes);
  if (FreeNode* n = pools.heads[c]; n != nullptr) {
    pools.heads[c] = n->next;
    if (--pools.counts[c] < pools.low_water[c]) pools.low_water[c] = pools.counts[c];
    return n;
  }
  pools.low_water[c] = 0;
  return allocate_memory(class_bytes(c));
}

void free_frame(void* p, std::size_t bytes) noexcept {
  const std::size_t c = size_class(bytes);
  // A frame freed on another thread than the one that made it simply joins
  // this thread's list: frames are interchangeable within a class.
  if (c < kClasses && pools.counts[c] < kMaxCachedPerClass) {
    auto* n = static_cast<FreeNode*>(p);
    n->next = pools.heads[c];
    pools.heads[c] = n;
    ++pools.counts[c];
    return;
  }
  const std::size_t size = c < kClasses ? class_bytes(c) : bytes;
  free_memory(p, size);
  pools.overflow_bytes += size;
}

std::size_t trim_unused_frames(std::size_t keep_per_class) {
  std::size_t freed = 0;
  for (std::size_t c = 0; c < kClasses; ++c) {
    const std::size_t count = pools.counts[c];
    const std::size_t spare = count > keep_per_class ? count - keep_per_class : 0;
    std::size_t n = pools.low_water[c] < spare ? pools.low_water[c] : spare;
    pools.counts[c] = static_cast<std::uint16_t>(count - n);
    pools.low_water[c] = pools.counts[c];
    freed += n * class_bytes(c);
    for (; n > 0; --n) {
      FreeNode* head = pools.heads[c];
      pools.heads[c] = head->next;
      free_memory(head, class_bytes(c));
    }
  }
  return freed;
}

std::size_t take_frame_overflow_bytes() {
  return std::exchange(pools.overflow_bytes, 0);
}

std::size_t cached_frame_bytes() {
  std::size_t bytes = 0;
  for (std::size_t c = 0; c < kClasses; ++c)
    bytes += pools.counts[c] * class_bytes(c);
  return bytes;
}
#endif

}  // namespace sluice
