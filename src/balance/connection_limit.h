// A server's `max_connections`: at most that many requests in flight to it,
// over all workers. A request over the limit waits in a FIFO queue (up to
// `queue.timeout`, at most `queue.max_size` waiting); a finishing request
// hands its slot straight to the first in line, on that request's own
// worker thread (through its event loop). A request that stops waiting
// (timed out, or its client went away) leaves the queue at once, so only
// live waiters count against `queue.max_size`.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "core/event_loop.h"
#include "core/waiter.h"

namespace sluice::balance {

class ConnectionLimit {
 public:
  // `max_queue`: requests that may wait (0: none wait, over the limit is
  // refused at once). `server`: names it in log lines.
  ConnectionLimit(int max, std::size_t max_queue, std::string server = {})
      : max_(max), max_queue_(max_queue), server_(std::move(server)) {}

  struct Ticket;
  // co_await limit.acquire(...): true with a slot (release() it later),
  // false when the queue is full or the wait timed out or was cancelled.
  // `timeout_ms` 0: do not wait at all.
  struct Acquire {
    ConnectionLimit& limit;
    EventLoop& loop;
    std::uint64_t timeout_ms;
    CancelToken* cancel;
    std::shared_ptr<Ticket> ticket = nullptr;
    bool immediate = false;
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    bool await_resume();
  };
  Acquire acquire(EventLoop& loop, std::uint64_t timeout_ms, CancelToken* cancel) {
    return Acquire{*this, loop, timeout_ms, cancel};
  }
  void release();

  int in_use() const { return busy_.load(std::memory_order_relaxed); }
  int max() const { return max_.load(std::memory_order_relaxed); }
  std::size_t max_queue() const { return max_queue_.load(std::memory_order_relaxed); }
  // A reload changed the server's limits. The slots in use stay counted (the
  // requests holding them release them here); a raised limit lets waiting
  // requests in at once.
  void resize(int max, std::size_t max_queue);
  // Requests waiting now (any thread; takes the lock).
  std::size_t waiting();

 private:
  bool try_take();
  void leave_queue(const std::shared_ptr<Ticket>& ticket);  // under mutex_

  void grant(std::shared_ptr<Ticket> next);

  std::atomic<int> max_;
  std::atomic<std::size_t> max_queue_;  // 0: nobody waits
  const std::string server_;
  std::atomic<int> busy_{0};
  std::mutex mutex_;
  std::deque<std::shared_ptr<Ticket>> queue_;
};

}  // namespace sluice::balance
