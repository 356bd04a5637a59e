#include "http/h2_memory.h"

#include <nghttp2/nghttp2.h>

#include <cstdlib>
#include <cstring>

#include "core/frame_allocator.h"

namespace sluice::http {
namespace {

// Each block starts with its size, so that free() can find its class; 16
// bytes keep the block aligned as malloc's are.
constexpr std::size_t kHeader = 16;
// Larger blocks are few per session and long-lived: malloc's.
constexpr std::size_t kPooledMax = 1024;

void* pooled_malloc(std::size_t size, void*) {
  const std::size_t total = size + kHeader;
  void* raw = size <= kPooledMax ? allocate_frame(total) : std::malloc(total);
  if (raw == nullptr) return nullptr;
  std::memcpy(raw, &size, sizeof size);
  return static_cast<char*>(raw) + kHeader;
}

void pooled_free(void* p, void*) {
  if (p == nullptr) return;
  char* raw = static_cast<char*>(p) - kHeader;
  std::size_t size = 0;
  std::memcpy(&size, raw, sizeof size);
  if (size <= kPooledMax) {
    free_frame(raw, size + kHeader);
  } else {
    std::free(raw);
  }
}

void* pooled_calloc(std::size_t count, std::size_t size, void* user) {
  const std::size_t bytes = count * size;
  if (size != 0 && bytes / size != count) return nullptr;
  void* p = pooled_malloc(bytes, user);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

void* pooled_realloc(void* p, std::size_t size, void* user) {
  if (p == nullptr) return pooled_malloc(size, user);
  std::size_t old = 0;
  std::memcpy(&old, static_cast<char*>(p) - kHeader, sizeof old);
  void* q = pooled_malloc(size, user);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old < size ? old : size);
  pooled_free(p, user);
  return q;
}

}  // namespace

nghttp2_mem* h2_memory() {
  static nghttp2_mem mem{nullptr, pooled_malloc, pooled_free, pooled_calloc, pooled_realloc};
  return &mem;
}

}  // namespace sluice::http
