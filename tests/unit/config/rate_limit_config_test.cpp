// The 'rate_limit' middleware's settings (issue 18): the defaults, every key
// read in its unit, and every refused value with its file:line:col.
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
using testing::position_of;

// A configuration whose middleware 'limit' is `rate_limit: {settings}`.
std::string with_settings(std::string_view settings) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "middlewares:\n"
         "  limit:\n"
         "    rate_limit: " +
         std::string(settings) +
         "\n"
         "routes: [{name: r, middlewares: [limit], respond: {status: 200}}]\n";
}

const RateLimit& loaded(const LoadResult& r) {
  return r.config->middlewares.at(0).rate_limit;
}

// Exactly one error, at `at`, saying `message`.
void expect_error(std::string_view settings, std::string_view at, const std::string& message) {
  const std::string yaml = with_settings(settings);
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok());
  std::vector<const Diagnostic*> e;
  for (const auto& d : r.diagnostics)
    if (d.severity == Severity::error) e.push_back(&d);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

TEST(RateLimitConfig, OnlyAverageIsNeededAndTheRestHasDefaults) {
  const auto r = load_string(with_settings("{average: 100}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const RateLimit& l = loaded(r);
  EXPECT_EQ(l.average, 100u);
  EXPECT_EQ(l.period, std::chrono::seconds(1));
  EXPECT_EQ(l.burst, 100u) << "the bucket holds one period's tokens";
  EXPECT_EQ(l.key, RateLimitKey::client_ip);
  EXPECT_FALSE(l.per_route);
  EXPECT_EQ(l.max_keys, 100'000u);
  EXPECT_FALSE(l.redis);
}

TEST(RateLimitConfig, EveryKeyIsRead) {
  const auto r = load_string(
      with_settings("{average: 10, period: 1h, burst: 3, key: 'header:X-Api-Key', "
                    "per_route: true, max_keys: 500, "
                    "redis: {address: '127.0.0.1:6379', timeout: 20ms, prefix: 'fleet:'}}"),
      "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const RateLimit& l = loaded(r);
  EXPECT_EQ(l.average, 10u);
  EXPECT_EQ(l.period, std::chrono::hours(1));
  EXPECT_EQ(l.burst, 3u);
  EXPECT_EQ(l.key, RateLimitKey::header);
  EXPECT_EQ(l.key_header, "X-Api-Key");
  EXPECT_TRUE(l.per_route);
  EXPECT_EQ(l.max_keys, 500u);
  ASSERT_TRUE(l.redis);
  EXPECT_EQ(l.redis->address, "127.0.0.1:6379");
  EXPECT_EQ(l.redis->timeout, std::chrono::milliseconds(20));
  EXPECT_EQ(l.redis->prefix, "fleet:");
}

TEST(RateLimitConfig, KeyByHostAndRedisDefaults) {
  const auto r = load_string(
      with_settings("{average: 5, key: host, redis: {address: 'localhost:6379'}}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(loaded(r).key, RateLimitKey::host);
  ASSERT_TRUE(loaded(r).redis);
  EXPECT_EQ(loaded(r).redis->timeout, std::chrono::milliseconds(50));
  EXPECT_EQ(loaded(r).redis->prefix, "sluice:");
}

TEST(RateLimitConfig, AverageIsRequired) {
  expect_error("{burst: 5}", "{burst",
               "middleware 'limit': rate_limit: missing required key 'average' (tokens per "
               "period, e.g. 100)");
}

TEST(RateLimitConfig, ZeroOrNegativeCountsAreRefused) {
  expect_error("{average: 0}", "0}",
               "middleware 'limit': rate_limit.average: expected a whole number from 1 to "
               "1000000000, got '0'");
  expect_error("{average: 1, burst: -1}", "-1}",
               "middleware 'limit': rate_limit.burst: expected a whole number from 1 to "
               "1000000000, got '-1'");
  expect_error("{average: 1, max_keys: 0}", "0}",
               "middleware 'limit': rate_limit.max_keys: expected a whole number from 1 to "
               "100000000, got '0'");
}

TEST(RateLimitConfig, APeriodMustBePositiveAndAtMostADay) {
  expect_error("{average: 1, period: 0s}", "0s}",
               "middleware 'limit': rate_limit.period: must be longer than 0");
  expect_error("{average: 1, period: 25h}", "25h}",
               "middleware 'limit': rate_limit.period: must be at most 24h");
}

TEST(RateLimitConfig, AnUnknownKeyKindIsRefusedWithASuggestion) {
  expect_error("{average: 1, key: client_id}", "client_id}",
               "middleware 'limit': rate_limit.key: expected client_ip, host or header:NAME, got "
               "'client_id' (did you mean 'client_ip'?)");
  expect_error("{average: 1, key: 'header:X Key'}", "'header:X Key'",
               "middleware 'limit': rate_limit.key: 'X Key' is not a valid header field name");
}

TEST(RateLimitConfig, RedisNeedsAnAddressWithAPort) {
  expect_error("{average: 1, redis: {timeout: 1s}}", "{timeout",
               "middleware 'limit': rate_limit.redis: missing required key 'address'");
  const std::string yaml = with_settings("{average: 1, redis: {address: 'redis'}}");
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].column, position_of(yaml, "'redis'}").column) << dump(r);
  EXPECT_NE(r.diagnostics[0].message.find("rate_limit.redis.address: expected host:port"),
            std::string::npos)
      << dump(r);
}

TEST(RateLimitConfig, AMisspeltKeyIsRefused) {
  const auto r = load_string(with_settings("{average: 1, brust: 5}"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("burst"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace sluice::config
