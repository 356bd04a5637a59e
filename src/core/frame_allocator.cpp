#include "core/frame_allocator.h"

#include <array>
#include <new>

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
#else
namespace {

constexpr std::size_t kClassBytes = 64;  // size classes are multiples of this
constexpr std::size_t kClasses = 256;    // up to 16 KiB frames are pooled
constexpr std::size_t kMaxCachedPerClass = 1024;

struct FreeNode {
  FreeNode* next;
};

struct FramePools {
  std::array<FreeNode*, kClasses> heads{};
  std::array<std::size_t, kClasses> counts{};
  ~FramePools() {
    for (auto* head : heads) {
      while (head != nullptr) {
        FreeNode* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
  }
};

thread_local FramePools pools;

std::size_t size_class(std::size_t bytes) {
  return (bytes + kClassBytes - 1) / kClassBytes;
}

}  // namespace

void* allocate_frame(std::size_t bytes) {
  const std::size_t c = size_class(bytes);
  if (c < kClasses && pools.heads[c] != nullptr) {
    FreeNode* n = pools.heads[c];
    pools.heads[c] = n->next;
    --pools.counts[c];
    return n;
  }
  return ::operator new(c < kClasses ? c * kClassBytes : bytes);
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
  ::operator delete(p);
}
#endif

}  // namespace sluice
