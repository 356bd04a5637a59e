// One event loop per worker thread: epoll (edge-triggered), a timer wheel, a
// queue of coroutines ready to resume, and a thread-safe post() for the rare
// cross-thread message (stop, new configuration).
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/idle_poll.h"
#include "core/result.h"
#include "core/timer_wheel.h"

struct epoll_event;

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

  // The longest the loop polls for events before it sleeps, while its idle
  // spells are short (core/idle_poll.h); 0: it sleeps at once. Loop thread.
  void set_busy_poll(std::uint64_t max_ns) { idle_poll_.set_max(max_ns); }

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
  int wait(::epoll_event* events, int max_events);

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopping_ = false;
  std::uint64_t now_ms_ = 0;
  TimerWheel timers_;
  IdlePoll idle_poll_;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace sluice
