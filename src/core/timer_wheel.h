// A hashed timer wheel with 1 ms ticks: O(1) schedule and cancel, firing in
// order of expiry (ties in scheduling order). Timers are intrusive nodes the
// caller owns, so arming one never allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace sluice {

class TimerWheel;

class Timer {
 public:
  using Callback = void (*)(Timer*);

  Timer() = default;
  explicit Timer(Callback cb) : callback_(cb) {}
  // A timer must not be destroyed while armed; owners cancel it first.
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void set_callback(Callback cb) { callback_ = cb; }
  bool armed() const { return next_ != nullptr; }
  std::uint64_t expiry_ms() const { return expiry_; }

 private:
  friend class TimerWheel;
  void unlink();

  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;  // null when not armed
  TimerWheel* wheel_ = nullptr;
  std::uint64_t expiry_ = 0;
  Callback callback_ = nullptr;
};

class TimerWheel {
 public:
  static constexpr std::size_t kSlots = 4096;  // one rotation = 4.096 s

  explicit TimerWheel(std::uint64_t now_ms);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms `t` to fire at `expiry_ms` (absolute, same clock as advance()).
  // Re-arming an armed timer moves it. An expiry in the past fires on the
  // next advance().
  void schedule(Timer& t, std::uint64_t expiry_ms);
  void cancel(Timer& t);

  // Fires every timer whose expiry is <= now_ms. Callbacks may schedule and
  // cancel timers, including ones due in this same call.
  void advance(std::uint64_t now_ms);

  // Milliseconds from now_ms until the next slot that may hold a due timer,
  // or nullopt when no timer is armed. Used as the epoll_wait timeout.
  std::optional<std::uint64_t> next_timeout(std::uint64_t now_ms) const;

  std::size_t size() const { return count_; }

 private:
  friend class Timer;
  static constexpr std::size_t kMask = kSlots - 1;
  static constexpr std::size_t kWords = kSlots / 64;

  void link_tail(Timer& head, Timer& t);
  std::optional<std::size_t> distance_to_busy_slot(std::uint64_t from_tick) const;
  void fire_slot(std::uint64_t tick);

  std::array<Timer, kSlots> heads_;           // circular sentinels, one per slot
  std::array<std::uint64_t, kWords> busy_{};  // bit set: slot may be non-empty
  std::uint64_t current_;                     // next tick to process
  std::size_t count_ = 0;
};

}  // namespace sluice
