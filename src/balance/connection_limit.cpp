#include "balance/connection_limit.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <vector>

namespace sluice::balance {

// One waiting request. `granted` changes under the limit's mutex; `waiter`
// only on the waiting request's own thread. A ticket is in the queue until
// it is granted a slot or its request stops waiting, never after.
struct ConnectionLimit::Ticket {
  EventLoop* loop = nullptr;
  Waiter waiter;
  Waiter* pending = nullptr;  // cleared when the wait ends
  bool granted = false;
};

bool ConnectionLimit::try_take() {
  int busy = busy_.load(std::memory_order_relaxed);
  while (busy < max_.load(std::memory_order_relaxed)) {
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
    // A zero timeout would arm no timer and wait for ever: it means "do
    // not wait".
    if (timeout_ms == 0 || limit.queue_.size() >= limit.max_queue()) return false;
    if (!ticket->waiter.begin(loop, h, timeout_ms, cancel)) return false;
    ticket->pending = &ticket->waiter;
    ticket->waiter.owner_slot = &ticket->pending;
    limit.queue_.push_back(ticket);
    spdlog::debug("server {}: at max_connections ({}); request queued, {} waiting", limit.server_,
                  limit.max(), limit.queue_.size());
  }
  return true;
}

bool ConnectionLimit::Acquire::await_resume() {
  if (immediate) return true;
  if (!ticket) return false;
  std::lock_guard lock(limit.mutex_);
  if (ticket->granted) return true;  // a slot came with the timeout: keep it
  // Timed out or cancelled: a ghost left in line would count against
  // max_size and turn later requests away.
  limit.leave_queue(ticket);
  return false;
}

void ConnectionLimit::leave_queue(const std::shared_ptr<Ticket>& ticket) {
  const auto it = std::find(queue_.begin(), queue_.end(), ticket);
  if (it != queue_.end()) queue_.erase(it);
}

std::size_t ConnectionLimit::waiting() {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void ConnectionLimit::release() {
  std::shared_ptr<Ticket> next;
  {
    std::lock_guard lock(mutex_);
    if (!queue_.empty()) {
      next = std::move(queue_.front());
      queue_.pop_front();
      next->granted = true;  // the slot moves to it: busy_ stays
    } else {
      busy_.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
  }
  grant(std::move(next));
}

// Wakes a granted waiter on its own worker's loop.
void ConnectionLimit::grant(std::shared_ptr<Ticket> next) {
  EventLoop* loop = next->loop;
  loop->post([next = std::move(next)] {
    if (next->pending != nullptr) next->pending->finish(Errc::ok);
  });
}

void ConnectionLimit::resize(int max, std::size_t max_queue) {
  std::vector<std::shared_ptr<Ticket>> granted;
  {
    std::lock_guard lock(mutex_);
    max_.store(max, std::memory_order_relaxed);
    max_queue_.store(max_queue, std::memory_order_relaxed);
    while (!queue_.empty() && try_take()) {
      queue_.front()->granted = true;
      granted.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (auto& t : granted)
    grant(std::move(t));
}

}  // namespace sluice::balance
