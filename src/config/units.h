// Durations and sizes as written in the configuration: "250ms", "3s", "16KiB".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::config {

// "250ms", "3s", "1.5s", "5m", "1h". A unit is required.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// "512", "512B", "16KiB", "1MiB", "1GiB", "64KB", "1MB", "1GB".
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace sluice::config
