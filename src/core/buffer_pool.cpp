#include "core/buffer_pool.h"

#include <new>

namespace sluice {

BufferPool::BufferPool(std::size_t buffer_bytes, std::size_t max_cached)
    : buffer_bytes_(buffer_bytes), max_cached_(max_cached) {
  free_.reserve(max_cached_);
}

BufferPool::~BufferPool() {
  for (char* p : free_)
    ::operator delete(p);
}

Buffer BufferPool::acquire() {
  char* p;
  if (!free_.empty()) {
    p = free_.back();
    free_.pop_back();
  } else {
    p = static_cast<char*>(::operator new(buffer_bytes_));
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
    ::operator delete(data);
  }
}

}  // namespace sluice
