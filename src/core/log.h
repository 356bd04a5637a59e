// Logging set-up. Code that logs includes <spdlog/spdlog.h> in its .cpp only
// (a heavy header); nothing logs per request at the default level.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Valid levels: trace, debug, info, warn, error. Returns false for others.
bool init_logging(std::string_view level);
bool is_valid_log_level(std::string_view level);

}  // namespace sluice
