#include "core/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

namespace sluice {
namespace {

std::size_t whole_pages(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

}  // namespace

BufferPool::BufferPool(std::size_t buffer_bytes, std::size_t max_cached, std::size_t idle_cached)
    : buffer_bytes_(buffer_bytes),
      mapped_bytes_(whole_pages(buffer_bytes)),
      max_cached_(max_cached),
      idle_cached_(idle_cached < max_cached ? idle_cached : max_cached) {
  free_.reserve(max_cached_);
}

BufferPool::~BufferPool() {
  for (char* p : free_)
    deallocate(p);
}

#if defined(__SANITIZE_ADDRESS__)
// Under ASan buffers come from the checked allocator, so an overrun is caught.
char* BufferPool::allocate() const {
  return static_cast<char*>(::operator new(buffer_bytes_));
}
void BufferPool::deallocate(char* data) const {
  ::operator delete(data);
}
#else
char* BufferPool::allocate() const {
  void* p =
      ::mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(p);
}
void BufferPool::deallocate(char* data) const {
  ::munmap(data, mapped_bytes_);
}
#endif

Buffer BufferPool::acquire() {
  if (!active_) {
    active_ = true;
    if (hook_ != nullptr) hook_(hook_arg_);
  }
  char* p;
  if (!free_.empty()) {
    p = free_.back();
    free_.pop_back();
    if (free_.size() < low_water_) low_water_ = free_.size();
  } else {
    p = allocate();
    low_water_ = 0;
  }
  ++in_use_;
  return Buffer(this, p);
}

void BufferPool::release(char* data) {
  --in_use_;
  // Past the cache limit, give memory back: a burst must not pin its peak.
  if (free_.size() < max_cached_) {
    free_.push_back(data);
  } else {
    deallocate(data);
  }
}

std::size_t BufferPool::trim_unused() {
  const std::size_t spare = free_.size() > idle_cached_ ? free_.size() - idle_cached_ : 0;
  const std::size_t unused = low_water_ < spare ? low_water_ : spare;
  for (std::size_t n = unused; n > 0; --n) {
    deallocate(free_.back());
    free_.pop_back();
  }
  low_water_ = free_.size();
  active_ = false;
  return unused * buffer_bytes_;
}

}  // namespace sluice
