// How long a worker's loop keeps asking epoll for events before it sleeps.
//
// A sleep and the wake-up after it cost both sides: the sleeper a context
// switch, the sender that wakes it an interrupt to another CPU (dear in a
// virtual machine). Under load the next event is often a few microseconds
// away, and polling that long costs less than sleeping. When it is not, the
// polling is waste. So the loop polls only while most of its recent idle
// spells were short (at most the longest window), and the window itself
// adapts as KVM's halt polling does: it doubles when a sleep was short (a
// longer window would have caught the event) and halves when it was long.
// An idle or lightly loaded worker does not poll at all.
#pragma once

#include <cstdint>

namespace sluice {

class IdlePoll {
 public:
  // `max_ns` 0 turns polling off: the loop sleeps as soon as it is idle.
  explicit IdlePoll(std::uint64_t max_ns = 0) : max_ns_(max_ns) {}

  void set_max(std::uint64_t max_ns);
  std::uint64_t max_ns() const { return max_ns_; }
  // How long to poll before the next sleep; 0: sleep at once.
  std::uint64_t window_ns() const;

  // The loop went idle and an event came while it polled.
  void caught();
  // The loop went idle, polled through its window (if any) without an
  // event, slept, and was woken `idle_ns` after it went idle.
  void slept(std::uint64_t idle_ns);

 private:
  void note_spell(bool short_spell);

  std::uint64_t max_ns_;
  std::uint64_t window_ns_ = 0;
  // Share of recent idle spells that were short, in 1/1024ths: a moving
  // average over about the last 16.
  std::uint32_t short_share_ = 0;
};

}  // namespace sluice
