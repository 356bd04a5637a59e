// What a test may assume about when sluice's timers fire.
#pragma once

#include <chrono>

namespace sluice::test {

// sluice's event loop keeps time in whole milliseconds, read once per loop
// turn, on a timer wheel with 1 ms ticks: a timeout can end up to a tick,
// plus the time spent in the turn that armed it, before its nominal length.
// Lower bounds on timeouts allow this much; anything earlier is a bug.
inline constexpr std::chrono::milliseconds kTimerEarliness{5};

}  // namespace sluice::test
