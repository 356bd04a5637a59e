// One coroutine waits until another on the same loop says "go": an HTTP/2
// stream waiting for window to send, a connection's writer waiting for
// frames. At most one waiter; a raise with nobody waiting is kept until the
// next wait, so a wake-up is never lost between a check and a wait.
#pragma once

#include <coroutine>
#include <cstdint>

#include "core/waiter.h"

namespace sluice {

class Signal {
 public:
  Signal() = default;
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  ~Signal() {
    if (waiter_ != nullptr) waiter_->finish(Errc::cancelled);
  }

  // co_await signal.wait(loop, ms, token): Errc::ok once raised, else
  // timeout (ms > 0) or cancelled.
  struct Wait : Waiter {
    Wait(Signal& s, EventLoop& l, std::uint64_t t, CancelToken* c)
        : signal(s), wait_loop(l), timeout_ms(t), cancel(c) {}
    Signal& signal;
    EventLoop& wait_loop;
    std::uint64_t timeout_ms;
    CancelToken* cancel;
    bool raised_before = false;
    bool await_ready() {
      raised_before = signal.raised_;
      signal.raised_ = false;
      return raised_before;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!begin(wait_loop, h, timeout_ms, cancel)) return false;
      signal.waiter_ = this;
      owner_slot = &signal.waiter_;
      return true;
    }
    Errc await_resume() const noexcept { return raised_before ? Errc::ok : reason; }
  };
  Wait wait(EventLoop& loop, std::uint64_t timeout_ms = 0, CancelToken* cancel = nullptr) {
    return Wait(*this, loop, timeout_ms, cancel);
  }

  void raise() {
    if (waiter_ == nullptr) {
      raised_ = true;
      return;
    }
    waiter_->finish(Errc::ok);  // clears waiter_ through owner_slot
  }
  bool waiting() const { return waiter_ != nullptr; }

 private:
  Waiter* waiter_ = nullptr;
  bool raised_ = false;
};

}  // namespace sluice
