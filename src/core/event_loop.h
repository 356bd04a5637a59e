// One event loop per worker thread: epoll (edge-triggered), a timer wheel, a
// queue of coroutines ready to resume, and a thread-safe post() for the rare
// cross-thread message (stop, new configuration).
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/result.h"
#include "core/timer_wheel.h"

namespace sluice {

// Receives readiness events for one file descriptor registered with a loop.
class IoHandler {
 public:
  virtual void on_io(std::uint32_t events) = 0;

 protected:
  ~IoHandler() = default;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until stop(). Must be called on the loop's own thread.
  void run();
  // Makes run() return after the current iteration. Loop thread only; other
  // threads use post([&]{ loop.stop(); }).
  void stop() { stopping_ = true; }
  // Thread-safe: runs `fn` on the loop thread at its next iteration.
  void post(std::function<void()> fn);

  // Registers `fd` for edge-triggered read and write readiness.
  Result<void> watch(int fd, IoHandler* handler);
  void unwatch(int fd);

  // Queues `h` to resume on the next turn of the loop.
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }

  // Monotonic milliseconds, read once per loop iteration.
  std::uint64_t now_ms() const { return now_ms_; }
  // Reads the clock again; for code that runs outside the loop's turn.
  std::uint64_t refresh_now();
  TimerWheel& timers() { return timers_; }

  // The loop running on this thread, or null.
  static EventLoop* current();

 private:
  class Wakeup;
  void run_ready();
  void run_posted();
  int epoll_timeout_ms() const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopping_ = false;
  std::uint64_t now_ms_ = 0;
  TimerWheel timers_;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace sluice
