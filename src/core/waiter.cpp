#include "core/waiter.h"

namespace sluice {

bool Waiter::begin(EventLoop& l, std::coroutine_handle<> h, std::uint64_t timeout_ms,
                   CancelToken* t) {
  loop = &l;
  handle = h;
  reason = Errc::ok;
  if (t != nullptr) {
    if (t->cancelled()) {
      reason = Errc::cancelled;
      return false;
    }
    t->add(this);
  }
  if (timeout_ms > 0) l.timers().schedule(*this, l.now_ms() + timeout_ms);
  return true;
}

void Waiter::finish(Errc why) {
  if (armed()) loop->timers().cancel(*this);
  if (token != nullptr) token->remove(this);
  if (owner_slot != nullptr) {
    *owner_slot = nullptr;
    owner_slot = nullptr;
  }
  reason = why;
  loop->schedule(handle);
}

void CancelToken::add(Waiter* w) {
  w->token = this;
  w->token_prev = nullptr;
  w->token_next = head_;
  if (head_ != nullptr) head_->token_prev = w;
  head_ = w;
}

void CancelToken::remove(Waiter* w) {
  if (w->token_prev != nullptr) w->token_prev->token_next = w->token_next;
  if (w->token_next != nullptr) w->token_next->token_prev = w->token_prev;
  if (head_ == w) head_ = w->token_next;
  w->token = nullptr;
  w->token_prev = w->token_next = nullptr;
}

void CancelToken::cancel() {
  cancelled_ = true;
  while (head_ != nullptr)
    head_->finish(Errc::cancelled);
}

}  // namespace sluice
