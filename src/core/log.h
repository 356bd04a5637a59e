// Logging set-up. Code that logs includes <spdlog/spdlog.h> in its .cpp only
// (a heavy header); nothing logs per request at the default level.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Valid levels: trace, debug, info, warn, error. Returns false for others.
bool init_logging(std::string_view level);
bool is_valid_log_level(std::string_view level);

// One message a second at most for an event that can repeat in a tight
// loop (accept failing at EMFILE, a listener at its connection cap), from
// any thread: a flood of identical lines would cost more than the event.
class LogThrottle {
 public:
  // Counts one event at `now_ms` (monotonic). Returns 0 while a message
  // went out less than a second ago; otherwise the number of events since
  // the previous message, this one included, and the caller logs it.
  std::uint64_t note(std::uint64_t now_ms);

 private:
  std::atomic<std::uint64_t> events_{0};
  std::atomic<std::uint64_t> next_ms_{0};  // the earliest time of the next message
};

}  // namespace sluice
