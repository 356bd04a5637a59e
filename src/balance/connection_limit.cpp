#include "balance/connection_limit.h"

namespace sluice::balance {

// One waiting request. `granted` and `abandoned` change under the limit's
// mutex; `waiter` only on the waiting request's own thread.
struct ConnectionLimit::Ticket {
  EventLoop* loop = nullptr;
  Waiter waiter;
  Waiter* pending = nullptr;  // cleared when the wait ends
  bool granted = false;
  bool abandoned = false;
};

bool ConnectionLimit::try_take() {
  int busy = busy_.load(std::memory_order_relaxed);
  while (busy < max_) {
    if (busy_.compare_exchange_weak(busy, busy + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

bool ConnectionLimit::Acquire::await_ready() {
  immediate = limit.try_take();
  return immediate;
}

bool ConnectionLimit::Acquire::await_suspend(std::coroutine_handle<> h) {
  ticket = std::make_shared<Ticket>();
  ticket->loop = &loop;
  {
    std::lock_guard lock(limit.mutex_);
    // A slot may have been freed since await_ready.
    if (limit.try_take()) {
      immediate = true;
      return false;
    }
    if (limit.max_queue_ > 0 && limit.queue_.size() >= limit.max_queue_) return false;
    if (!ticket->waiter.begin(loop, h, timeout_ms, cancel)) return false;
    ticket->pending = &ticket->waiter;
    ticket->waiter.owner_slot = &ticket->pending;
    limit.queue_.push_back(ticket);
  }
  return true;
}

bool ConnectionLimit::Acquire::await_resume() {
  if (immediate) return true;
  if (!ticket) return false;
  std::lock_guard lock(limit.mutex_);
  if (ticket->granted) return true;  // a slot came with the timeout: keep it
  ticket->abandoned = true;
  return false;
}

void ConnectionLimit::release() {
  std::shared_ptr<Ticket> next;
  {
    std::lock_guard lock(mutex_);
    while (!queue_.empty()) {
      auto t = std::move(queue_.front());
      queue_.pop_front();
      if (t->abandoned) continue;
      t->granted = true;  // the slot moves to it: busy_ stays
      next = std::move(t);
      break;
    }
    if (!next) {
      busy_.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
  }
  next->loop->post([next] {
    if (next->pending != nullptr) next->pending->finish(Errc::ok);
  });
}

}  // namespace sluice::balance
