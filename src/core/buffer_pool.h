// Fixed-size I/O buffers (16 KiB by default), pooled per worker. A connection
// takes one when bytes arrive and gives it back when it goes idle, so an idle
// keep-alive connection holds no buffer.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace sluice {

class BufferPool;

// A move-only handle to one pooled buffer; returns it to the pool when reset
// or destroyed. Must be released on the pool's own thread.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& o) noexcept
      : pool_(std::exchange(o.pool_, nullptr)), data_(std::exchange(o.data_, nullptr)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      pool_ = std::exchange(o.pool_, nullptr);
      data_ = std::exchange(o.data_, nullptr);
    }
    return *this;
  }
  ~Buffer() { reset(); }

  char* data() const { return data_; }
  std::size_t capacity() const;
  explicit operator bool() const { return data_ != nullptr; }
  void reset();

 private:
  friend class BufferPool;
  Buffer(BufferPool* pool, char* data) : pool_(pool), data_(data) {}
  BufferPool* pool_ = nullptr;
  char* data_ = nullptr;
};

class BufferPool {
 public:
  explicit BufferPool(std::size_t buffer_bytes = 16 * 1024, std::size_t max_cached = 64);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Buffer acquire();
  std::size_t buffer_bytes() const { return buffer_bytes_; }
  std::size_t in_use() const { return in_use_; }  // handed out and not yet returned
  std::size_t cached() const { return free_.size(); }

 private:
  friend class Buffer;
  void release(char* data);

  std::size_t buffer_bytes_;
  std::size_t max_cached_;
  std::size_t in_use_ = 0;
  std::vector<char*> free_;
};

inline std::size_t Buffer::capacity() const {
  return pool_ ? pool_->buffer_bytes() : 0;
}

inline void Buffer::reset() {
  if (data_ != nullptr) pool_->release(data_);
  data_ = nullptr;
  pool_ = nullptr;
}

}  // namespace sluice
