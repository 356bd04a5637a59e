#include "core/timer_wheel.h"

#include <bit>
#include <cassert>

namespace sluice {

Timer::~Timer() {
  if (armed() && wheel_ != nullptr) wheel_->cancel(*this);
}

void Timer::unlink() {
  prev_->next_ = next_;
  next_->prev_ = prev_;
  prev_ = next_ = nullptr;
}

TimerWheel::TimerWheel(std::uint64_t now_ms) : current_(now_ms) {
  for (auto& h : heads_)
    h.prev_ = h.next_ = &h;
}

TimerWheel::~TimerWheel() {
  // Disarm what is left so the owners' destructors do not touch a dead wheel.
  for (auto& h : heads_) {
    while (h.next_ != &h) {
      Timer* t = h.next_;
      t->unlink();
      t->wheel_ = nullptr;
    }
    h.prev_ = h.next_ = nullptr;
  }
}

void TimerWheel::link_tail(Timer& head, Timer& t) {
  t.prev_ = head.prev_;
  t.next_ = &head;
  head.prev_->next_ = &t;
  head.prev_ = &t;
}

void TimerWheel::schedule(Timer& t, std::uint64_t expiry_ms) {
  if (t.armed()) cancel(t);
  // Never place a timer behind the cursor: it would wait a whole rotation.
  if (expiry_ms < current_) expiry_ms = current_;
  t.expiry_ = expiry_ms;
  t.wheel_ = this;
  const std::size_t slot = expiry_ms & kMask;
  link_tail(heads_[slot], t);
  busy_[slot / 64] |= std::uint64_t{1} << (slot % 64);
  ++count_;
}

void TimerWheel::cancel(Timer& t) {
  if (!t.armed()) return;
  t.unlink();
  --count_;
  // The slot's busy bit is cleared lazily, when a visit finds the slot empty.
}

std::optional<std::size_t> TimerWheel::distance_to_busy_slot(std::uint64_t from_tick) const {
  const std::size_t start = from_tick & kMask;
  std::size_t word = start / 64;
  std::uint64_t bits = busy_[word] & (~std::uint64_t{0} << (start % 64));
  for (std::size_t scanned = 0; scanned <= kWords; ++scanned) {
    if (bits != 0) {
      const std::size_t slot = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      return (slot + kSlots - start) & kMask;
    }
    word = (word + 1) % kWords;
    bits = busy_[word];
  }
  return std::nullopt;
}

void TimerWheel::fire_slot(std::uint64_t tick) {
  const std::size_t slot = tick & kMask;
  Timer& head = heads_[slot];
  if (head.next_ == &head) {
    busy_[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
    return;
  }
  // Detach the slot so callbacks that schedule into it are not seen twice.
  Timer pending;
  pending.next_ = head.next_;
  pending.prev_ = head.prev_;
  pending.next_->prev_ = &pending;
  pending.prev_->next_ = &pending;
  head.prev_ = head.next_ = &head;
  while (pending.next_ != &pending) {
    Timer* t = pending.next_;
    t->unlink();
    if (t->expiry_ <= tick) {
      --count_;
      if (t->callback_ != nullptr) t->callback_(t);
    } else {
      link_tail(head, *t);  // a later rotation
    }
  }
  pending.prev_ = pending.next_ = nullptr;
  if (head.next_ == &head) busy_[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
}

void TimerWheel::advance(std::uint64_t now_ms) {
  while (current_ <= now_ms) {
    if (count_ == 0) {
      current_ = now_ms + 1;
      return;
    }
    auto d = distance_to_busy_slot(current_);
    if (!d || current_ + *d > now_ms) {
      current_ = now_ms + 1;
      return;
    }
    const std::uint64_t tick = current_ + *d;
    current_ = tick + 1;
    fire_slot(tick);
  }
}

std::optional<std::uint64_t> TimerWheel::next_timeout(std::uint64_t now_ms) const {
  if (count_ == 0) return std::nullopt;
  auto d = distance_to_busy_slot(current_);
  if (!d) return std::nullopt;
  const std::uint64_t due = current_ + *d;
  return due > now_ms ? due - now_ms : 0;
}

}  // namespace sluice
