#include "core/listener_cap.h"

#include <spdlog/spdlog.h>
#include <algorithm>

#include "core/event_loop.h"
#include "core/listener.h"

namespace sluice {

ListenerCap::ListenerCap(std::string name, std::size_t limit)
    : limit_(limit), name_(std::move(name)) {}

void ListenerCap::configure(std::string name, std::size_t limit) {
  {
    std::lock_guard lock(mutex_);
    name_ = std::move(name);
  }
  limit_.store(limit);
  resume_parked();
}

bool ListenerCap::try_take() {
  std::size_t n = open_.load(std::memory_order_relaxed);
  do {
    if (n >= limit_.load(std::memory_order_relaxed)) return false;
  } while (!open_.compare_exchange_weak(n, n + 1));
  return true;
}

void ListenerCap::give_back() {
  // Sequentially consistent with park(): either this close sees the parked
  // listener, or the parked listener sees the place this close freed.
  open_.fetch_sub(1);
  if (parked_count_.load() != 0) resume_parked();
}

bool ListenerCap::park(EventLoop& loop, Listener& listener) {
  std::size_t limit = 0;
  {
    std::lock_guard lock(mutex_);
    parked_.push_back({&loop, &listener});
    parked_count_.store(parked_.size());
    limit = limit_.load();
    if (open_.load() < limit) {
      parked_.pop_back();
      parked_count_.store(parked_.size());
      return false;
    }
    if (const std::uint64_t times = full_log_.note(loop.now_ms())) {
      spdlog::warn(
          "listener '{}' reached max_connections ({}): new connections wait in the kernel's "
          "accept queue until one closes ({} time(s) since the last message)",
          name_, limit, times);
    }
  }
  return true;
}

void ListenerCap::unpark(Listener& listener) {
  std::lock_guard lock(mutex_);
  std::erase_if(parked_, [&](const Parked& p) { return p.listener == &listener; });
  parked_count_.store(parked_.size());
}

void ListenerCap::resume_parked() {
  std::vector<Parked> woken;
  {
    std::lock_guard lock(mutex_);
    woken.swap(parked_);
    parked_count_.store(0);
  }
  // Each listener resumes on its own loop; one that finds the cap full
  // again parks again. A listener lives as long as its worker's loop, so
  // a message still queued when the loop stops is dropped with it.
  for (const Parked& p : woken) {
    Listener* listener = p.listener;
    p.loop->post([listener] { listener->resume(); });
  }
}

}  // namespace sluice
