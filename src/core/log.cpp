#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace sluice {

bool is_valid_log_level(std::string_view level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error";
}

bool init_logging(std::string_view level) {
  if (!is_valid_log_level(level)) return false;
  // Logs go to stderr, one line per event, flushed at once: operators and
  // tests read them as they happen.
  auto logger = spdlog::stderr_logger_mt("sluice");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return true;
}

std::uint64_t LogThrottle::note(std::uint64_t now_ms) {
  events_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t due = next_ms_.load(std::memory_order_relaxed);
  // One thread wins the slot; the others count and stay quiet.
  if (now_ms < due || !next_ms_.compare_exchange_strong(due, now_ms + 1000)) return 0;
  return events_.exchange(0, std::memory_order_relaxed);
}

}  // namespace sluice
