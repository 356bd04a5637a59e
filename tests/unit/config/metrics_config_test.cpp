// The top-level 'metrics' block: its default, what it accepts, and each
// rejected value at its file:line:col.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::errors;
using testing::position_of;

std::string with_metrics(std::string_view block) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "routes: [{respond: {status: 200}}]\n"
         "metrics: " +
         std::string(block) + "\n";
}

void expect_error(const std::string& yaml, std::string_view at, const std::string& message) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok());
  const auto e = errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

TEST(MetricsConfig, WithoutTheBlockTwentyThousandSeriesAreAllowed) {
  const auto r = load_string(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes: [{respond: {status: 200}}]\n",
      "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->metrics.max_series, 20'000u);
}

TEST(MetricsConfig, MaxSeriesIsRead) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::size_t>>{
           {"{max_series: 5}", 5}, {"{max_series: 0}", 0}, {"{max_series: 1000000}", 1'000'000}}) {
    const auto r = load_string(with_metrics(text), "f.yaml");
    ASSERT_TRUE(r.ok()) << dump(r);
    EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
    EXPECT_EQ(r.config->metrics.max_series, want) << text;
  }
}

TEST(MetricsConfig, MaxSeriesOutOfRangeOrNotANumberIsAnError) {
  for (const std::string v : {"-1", "1000001", "lots", "2.5"}) {
    expect_error(with_metrics("{max_series: " + v + "}"), v,
                 "metrics.max_series: expected a whole number from 0 to 1000000, got '" + v + "'");
  }
}

TEST(MetricsConfig, AnUnknownKeyIsAnErrorWithASuggestion) {
  expect_error(with_metrics("{max_serie: 10}"), "max_serie",
               "metrics: unknown key 'max_serie' (did you mean 'max_series'?)");
}

}  // namespace
}  // namespace sluice::config
