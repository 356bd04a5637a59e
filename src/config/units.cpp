#include "config/units.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace sluice::config {
namespace {

// Splits "12.5ms" into 12.5 and "ms". False if there is no leading number.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.'))
    ++i;
  if (i == 0) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc{} || end != text.data() + i || !std::isfinite(number) || number < 0) {
    return false;
  }
  unit = text.substr(i);
  return true;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) return std::nullopt;
  double ms;
  if (unit == "ms") {
    ms = n;
  } else if (unit == "s") {
    ms = n * 1e3;
  } else if (unit == "m") {
    ms = n * 60e3;
  } else if (unit == "h") {
    ms = n * 3600e3;
  } else {
    return std::nullopt;
  }
  if (ms > 1e12 || ms != std::floor(ms)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  double n = 0;
  std::string_view unit;
  if (!split_number(text, n, unit)) return std::nullopt;
  double mult;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KiB") {
    mult = 1024.0;
  } else if (unit == "MiB") {
    mult = 1024.0 * 1024;
  } else if (unit == "GiB") {
    mult = 1024.0 * 1024 * 1024;
  } else if (unit == "KB") {
    mult = 1e3;
  } else if (unit == "MB") {
    mult = 1e6;
  } else if (unit == "GB") {
    mult = 1e9;
  } else {
    return std::nullopt;
  }
  const double bytes = n * mult;
  if (bytes > 1e15 || bytes != std::floor(bytes)) return std::nullopt;
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace sluice::config
