// The common part of every suspending awaitable: the coroutine to resume, the
// reason it was woken, an optional timeout timer and an optional cancellation
// token. A waiter ends exactly once, through finish(), whichever of I/O
// completion, timeout or cancellation comes first; the others are disarmed.
#pragma once

#include <coroutine>
#include <cstdint>

#include "core/event_loop.h"
#include "core/result.h"
#include "core/timer_wheel.h"

namespace sluice {

class CancelToken;

struct Waiter : Timer {
  EventLoop* loop = nullptr;
  std::coroutine_handle<> handle;
  Waiter** owner_slot = nullptr;  // the owner's pointer to us, cleared on finish
  CancelToken* token = nullptr;
  Waiter* token_prev = nullptr;
  Waiter* token_next = nullptr;
  // Last: the small members of a derived awaitable fill the padding after
  // it (an idle connection's frame holds one awaitable).
  Errc reason = Errc::ok;

  Waiter() : Timer(&Waiter::on_timeout) {}

  // Arms the timeout (0 = none) and joins `token`; then the caller suspends.
  // Returns false if the token is already cancelled (do not suspend).
  bool begin(EventLoop& l, std::coroutine_handle<> h, std::uint64_t timeout_ms, CancelToken* t);
  // Ends the wait and queues the coroutine to resume with `why`.
  void finish(Errc why);

 private:
  static void on_timeout(Timer* t) { static_cast<Waiter*>(t)->finish(Errc::timeout); }
};

// Cancels a group of waits at once: a client session binds its sockets and
// sleeps to one token, and a worker stopping cancels the token. Waits that
// begin after cancel() fail at once with Errc::cancelled.
class CancelToken {
 public:
  CancelToken() = default;
  ~CancelToken() { cancel(); }
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  void cancel();
  bool cancelled() const { return cancelled_; }

 private:
  friend struct Waiter;
  void add(Waiter* w);
  void remove(Waiter* w);

  Waiter* head_ = nullptr;
  bool cancelled_ = false;
};

// co_await sleep_for(loop, ms, token): Errc::ok after ms, or cancelled.
class SleepAwaiter {
 public:
  SleepAwaiter(EventLoop& loop, std::uint64_t ms, CancelToken* token)
      : loop_(loop), ms_(ms), token_(token) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (!w_.begin(loop_, h, ms_ == 0 ? 1 : ms_, token_)) return false;
    return true;
  }
  Errc await_resume() const noexcept {
    // A sleep "times out" by design: that is success.
    if (w_.reason == Errc::timeout) return Errc::ok;
    return w_.reason == Errc::ok ? Errc::cancelled : w_.reason;
  }

 private:
  EventLoop& loop_;
  std::uint64_t ms_;
  CancelToken* token_;
  Waiter w_;
};

inline SleepAwaiter sleep_for(EventLoop& loop, std::uint64_t ms, CancelToken* token = nullptr) {
  return SleepAwaiter(loop, ms, token);
}

}  // namespace sluice
