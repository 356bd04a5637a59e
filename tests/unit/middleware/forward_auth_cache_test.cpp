// forward_auth's decision cache (issue 18): how long a decision is kept
// (Cache-Control of the auth server's answer, else the configured TTL),
// expiry, the bound on entries (the oldest goes), and keys that tell
// parts apart.
#include <gtest/gtest.h>

#include "middleware/auth_decision_cache.h"

namespace sluice::middleware {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

DecisionKey key(std::string_view a, std::string_view b = {}) {
  DecisionKeyBuilder k;
  k.add(a);
  k.add(b);
  return k.finish();
}

Decision allow(std::string user) {
  Decision d;
  d.allow = true;
  d.set.push_back({"X-User", std::move(user)});
  return d;
}

TEST(ForwardAuthCache, CacheControlMaxAgeSetsTheTtl) {
  EXPECT_EQ(decision_ttl({{"Cache-Control", "private, max-age=120"}}, seconds(30)), seconds(120));
  EXPECT_EQ(decision_ttl({{"cache-control", "max-age=\"7\""}}, seconds(30)), seconds(7));
  EXPECT_EQ(decision_ttl({{"Cache-Control", "max-age=60, s-maxage=10"}}, seconds(30)), seconds(10))
      << "a shared cache takes s-maxage first";
  EXPECT_EQ(decision_ttl({{"Content-Type", "text/plain"}}, seconds(30)), seconds(30));
  EXPECT_EQ(decision_ttl({{"Cache-Control", "max-age=junk"}}, seconds(30)), seconds(30));
}

TEST(ForwardAuthCache, NoStoreAndNoCacheKeepNothing) {
  EXPECT_EQ(decision_ttl({{"Cache-Control", "no-store"}}, seconds(30)), milliseconds(0));
  EXPECT_EQ(
      decision_ttl({{"Cache-Control", "max-age=60"}, {"Cache-Control", "No-Cache"}}, seconds(30)),
      milliseconds(0));
  EXPECT_EQ(decision_ttl({{"Cache-Control", "max-age=0"}}, seconds(30)), milliseconds(0));
}

TEST(ForwardAuthCache, ADecisionExpiresAfterItsTtl) {
  DecisionCache cache(10);
  const auto t0 = DecisionCache::Clock::now();
  cache.store(key("site", "alice"), allow("alice"), seconds(5), t0);
  auto found = cache.find(key("site", "alice"), t0 + seconds(4));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->set.at(0).value, "alice");
  EXPECT_FALSE(cache.find(key("site", "alice"), t0 + seconds(5)));
  EXPECT_EQ(cache.size(), 0u) << "an expired entry found is dropped";
}

TEST(ForwardAuthCache, AZeroTtlStoresNothing) {
  DecisionCache cache(10);
  const auto t0 = DecisionCache::Clock::now();
  cache.store(key("site", "alice"), allow("alice"), milliseconds(0), t0);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ForwardAuthCache, WhenFullTheOldestStoredGoes) {
  DecisionCache cache(3);
  const auto t0 = DecisionCache::Clock::now();
  for (const char* user : {"a", "b", "c", "d"})
    cache.store(key("site", user), allow(user), seconds(60), t0);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find(key("site", "a"), t0));
  EXPECT_TRUE(cache.find(key("site", "b"), t0));
  EXPECT_TRUE(cache.find(key("site", "d"), t0));
  // Storing again refreshes: b is now the newest, c the oldest.
  cache.store(key("site", "b"), allow("b2"), seconds(60), t0);
  cache.store(key("site", "e"), allow("e"), seconds(60), t0);
  EXPECT_FALSE(cache.find(key("site", "c"), t0));
  EXPECT_EQ(cache.find(key("site", "b"), t0)->set.at(0).value, "b2");
}

TEST(ForwardAuthCache, KeysTellTheirPartsApart) {
  EXPECT_NE(key("ab", "c"), key("a", "bc"));
  EXPECT_NE(key("site", ""), key("site", "x"));
  EXPECT_EQ(key("site", "alice"), key("site", "alice"));
}

}  // namespace
}  // namespace sluice::middleware
