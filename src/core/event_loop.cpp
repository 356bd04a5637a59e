#include "core/event_loop.h"

#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "core/direct_syscalls.h"

namespace sluice {
namespace {

thread_local EventLoop* current_loop = nullptr;

std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000 +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t monotonic_ms() {
  return monotonic_ns() / 1000000;
}

// epoll data for the loop's own eventfd: a null handler pointer.
constexpr std::uint64_t kWakeToken = 0;

}  // namespace

EventLoop::EventLoop() : now_ms_(monotonic_ms()), timers_(now_ms_) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    throw std::runtime_error(std::string("event loop: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  ready_.reserve(256);
  running_.reserve(256);
}

EventLoop::~EventLoop() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

EventLoop* EventLoop::current() {
  return current_loop;
}

std::uint64_t EventLoop::refresh_now() {
  now_ms_ = monotonic_ms();
  return now_ms_;
}

Result<void> EventLoop::watch(int fd, IoHandler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return Error::from_errno(errno);
  return {};
}

void EventLoop::unwatch(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const std::uint64_t one = 1;
  // A full eventfd counter still leaves it readable, which is all we need.
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::run_posted() {
  std::uint64_t count;
  while (::read(wake_fd_, &count, sizeof count) > 0) {
  }
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch)
    fn();
}

void EventLoop::run_ready() {
  // Coroutines resumed here may queue others; those run in the same turn,
  // in order, so a chain of hand-offs does not wait for epoll.
  while (!ready_.empty()) {
    running_.swap(ready_);
    for (auto h : running_)
      h.resume();
    running_.clear();
  }
}

int EventLoop::epoll_timeout_ms() const {
  if (!ready_.empty() || stopping_) return 0;
  auto t = timers_.next_timeout(now_ms_);
  if (!t) return -1;
  return *t > INT_MAX ? INT_MAX : static_cast<int>(*t);
}

int EventLoop::wait(epoll_event* events, int max_events) {
  const int timeout = epoll_timeout_ms();
  if (timeout == 0 || idle_poll_.max_ns() == 0)
    return direct::epoll_wait(epoll_fd_, events, max_events, timeout);
  // Events already waiting: the loop is not idle, and there is nothing to
  // learn about how long its idle spells last.
  int n = direct::epoll_wait(epoll_fd_, events, max_events, 0);
  if (n != 0) return n;
  // Idle: poll through the window before sleeping (core/idle_poll.h says why).
  const std::uint64_t idle_since = monotonic_ns();
  if (const std::uint64_t window = idle_poll_.window_ns(); window != 0) {
    do {
      // Another task runnable on this CPU (a backend, a client, another
      // worker) may be the one about to send the event: give it the CPU.
      // With none, this returns at once.
      sched_yield();
      n = direct::epoll_wait(epoll_fd_, events, max_events, 0);
    } while (n == 0 && monotonic_ns() - idle_since < window);
    if (n != 0) {
      if (n > 0) idle_poll_.caught();
      return n;
    }
  }
  n = direct::epoll_wait(epoll_fd_, events, max_events, timeout);
  if (n > 0) idle_poll_.slept(monotonic_ns() - idle_since);
  return n;
}

void EventLoop::run() {
  EventLoop* previous = current_loop;
  current_loop = this;
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  now_ms_ = monotonic_ms();
  while (true) {
    run_ready();
    if (stopping_) break;
    const int n = wait(events, kMaxEvents);
    now_ms_ = monotonic_ms();
    if (n < 0 && errno != EINTR) std::abort();  // a broken epoll fd is unrecoverable
    bool posted = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeToken) {
        posted = true;
      } else {
        static_cast<IoHandler*>(events[i].data.ptr)->on_io(events[i].events);
      }
    }
    // After the batch: a posted message may destroy a handler that still
    // had an event in it.
    if (posted) run_posted();
    timers_.advance(now_ms_);
  }
  stopping_ = false;  // the loop may be run again
  current_loop = previous;
}

}  // namespace sluice
