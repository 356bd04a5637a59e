// Fixed-size I/O buffers (16 KiB by default), pooled per worker. A connection
// takes one when bytes arrive and gives it back when it goes idle, so an idle
// keep-alive connection holds no buffer. The cache that spares steady traffic
// a system call per request is given back once traffic drops (trim_unused()),
// so a burst does not pin its peak.
//
// Buffers are mapped pages of their own, not malloc memory: a burst's buffers
// would otherwise be carved up by the small allocations made beside them
// (the idle connections' frames) and, freed, leave pages that are neither
// whole nor free, which no trim can return.
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
  // Called on the first acquire() after a trim_unused(): traffic resumed.
  using ActivityHook = void (*)(void* arg);

  // `max_cached`: returned buffers kept for reuse while traffic flows;
  // `idle_cached`: what trim_unused() keeps once it has stopped.
  explicit BufferPool(std::size_t buffer_bytes = 16 * 1024, std::size_t max_cached = 1024,
                      std::size_t idle_cached = 4);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  Buffer acquire();
  std::size_t buffer_bytes() const { return buffer_bytes_; }
  std::size_t in_use() const { return in_use_; }  // handed out and not yet returned
  std::size_t cached() const { return free_.size(); }
  std::size_t idle_cached() const { return idle_cached_; }

  // Frees the cached buffers that no acquire() needed since the previous
  // call, keeping at least `idle_cached`: what steady traffic uses stays,
  // what a burst left behind goes. Returns the bytes freed. Pool's thread
  // only; meant for a periodic check, never per request.
  std::size_t trim_unused();
  // A buffer was lent since the last trim_unused().
  bool active() const { return active_; }
  // `hook(arg)` runs on the first acquire() after each trim_unused() (and
  // on the first one ever), so the owner can schedule the next trim only
  // while there is traffic.
  void set_activity_hook(ActivityHook hook, void* arg) {
    hook_ = hook;
    hook_arg_ = arg;
  }

 private:
  friend class Buffer;
  void release(char* data);
  char* allocate() const;
  void deallocate(char* data) const;

  std::size_t buffer_bytes_;
  std::size_t mapped_bytes_;  // buffer_bytes_ rounded up to whole pages
  std::size_t max_cached_;
  std::size_t idle_cached_;
  std::size_t in_use_ = 0;
  std::vector<char*> free_;
  // Fewest buffers cached at any moment since the last trim: that many
  // went unused all along.
  std::size_t low_water_ = 0;
  bool active_ = false;  // an acquire() happened since the last trim
  ActivityHook hook_ = nullptr;
  void* hook_arg_ = nullptr;
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
