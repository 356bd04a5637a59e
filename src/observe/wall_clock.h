// The wall clock, for timestamps operators read (access log lines, trace
// spans). Durations use the event loop's monotonic clock instead.
#pragma once

#include <cstdint>

namespace sluice::observe {

// Microseconds since the Unix epoch (clock_gettime through the vDSO: no
// system call).
std::uint64_t unix_now_us();

}  // namespace sluice::observe

namespace sluice::observe {

// Microseconds of the monotonic clock, for durations finer than the event
// loop's milliseconds (vDSO, no system call).
std::uint64_t monotonic_now_us();

}  // namespace sluice::observe
