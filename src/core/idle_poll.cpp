#include "core/idle_poll.h"

#include <algorithm>

namespace sluice {
namespace {

constexpr std::uint32_t kWhole = 1024;
// Poll only when at least three spells in four were short: at one in two
// (a request that waits briefly for its backend, then long for the next
// request) polling fails every other time and costs more than it saves.
constexpr std::uint32_t kPollShare = kWhole * 3 / 4;

// The first window after none: an eighth of the longest, so that a loop
// that wakes often but not quite that often does not jump to the longest.
std::uint64_t first_window(std::uint64_t max_ns) {
  return std::max<std::uint64_t>(max_ns / 8, 1);
}

}  // namespace

void IdlePoll::set_max(std::uint64_t max_ns) {
  max_ns_ = max_ns;
  window_ns_ = std::min(window_ns_, max_ns_);
}

std::uint64_t IdlePoll::window_ns() const {
  return short_share_ >= kPollShare ? window_ns_ : 0;
}

void IdlePoll::note_spell(bool short_spell) {
  // An average over about 16 spells: each new one weighs 1/16.
  short_share_ = short_share_ - short_share_ / 16 + (short_spell ? kWhole / 16 : 0);
}

void IdlePoll::caught() {
  note_spell(true);
}

void IdlePoll::slept(std::uint64_t idle_ns) {
  if (max_ns_ == 0) return;
  const bool short_spell = idle_ns <= max_ns_;
  note_spell(short_spell);
  if (short_spell) {
    // A longer window would have caught this event without the sleep.
    window_ns_ = window_ns_ == 0 ? first_window(max_ns_) : std::min(window_ns_ * 2, max_ns_);
    return;
  }
  // The event came after the longest window: polling was waste. Halve it,
  // down to none.
  window_ns_ /= 2;
  if (window_ns_ < first_window(max_ns_)) window_ns_ = 0;
}

}  // namespace sluice
