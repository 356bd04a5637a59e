#include "config/units.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config {
namespace {

using std::chrono::milliseconds;

struct DurationRow {
  std::string text;
  std::optional<milliseconds> want;
};

TEST(ConfigUnits, Durations) {
  const DurationRow rows[] = {
      {"250ms", milliseconds(250)},
      {"0ms", milliseconds(0)},
      {"3s", milliseconds(3'000)},
      {"1.5s", milliseconds(1'500)},
      {"5m", milliseconds(300'000)},
      {"1h", milliseconds(3'600'000)},
      {"0.5m", milliseconds(30'000)},
      {"", std::nullopt},
      {"3", std::nullopt},  // a unit is required
      {"abc", std::nullopt},
      {"3S", std::nullopt},  // units are case-sensitive
      {"3 s", std::nullopt},
      {"-1s", std::nullopt},
      {"1us", std::nullopt},    // finer than a millisecond is not offered
      {"0.5ms", std::nullopt},  // not a whole number of milliseconds
      {"1.2.3s", std::nullopt},
      {"1d", std::nullopt},
      {"s", std::nullopt},
      {"99999999999h", std::nullopt},  // absurdly long
  };
  for (const auto& row : rows) {
    EXPECT_EQ(parse_duration(row.text), row.want) << "'" << row.text << "'";
  }
}

struct SizeRow {
  std::string text;
  std::optional<std::uint64_t> want;
};

TEST(ConfigUnits, Sizes) {
  const SizeRow rows[] = {
      {"512", 512},
      {"0", 0},
      {"512B", 512},
      {"16KiB", 16 * 1024},
      {"1MiB", 1024 * 1024},
      {"1GiB", 1024ull * 1024 * 1024},
      {"64KB", 64'000},
      {"1MB", 1'000'000},
      {"2GB", 2'000'000'000},
      {"1.5KiB", 1536},
      {"", std::nullopt},
      {"KiB", std::nullopt},
      {"16kib", std::nullopt},
      {"16K", std::nullopt},
      {"1TiB", std::nullopt},
      {"-1", std::nullopt},
      {"0.5B", std::nullopt},  // not a whole number of bytes
      {"16 KiB", std::nullopt},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(parse_size(row.text), row.want) << "'" << row.text << "'";
  }
}

}  // namespace
}  // namespace sluice::config
