// The token buckets behind the rate_limit middleware (issue 18): the budget
// a bucket grants, when a refused client may come back, lazy refill, one
// budget across threads, and memory bounded by max_keys.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "middleware/bucket_table.h"
#include "middleware/token_bucket.h"

namespace sluice::middleware {
namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;

TEST(TokenBucket, AFullBucketGrantsBurstThenRefusesWithTheWaitForOneToken) {
  const BucketRule rule = BucketRule::make(10, 1000, 3);  // one token per 100 ms
  std::uint64_t tat = 0;
  const std::uint64_t now = 50 * kSecond;
  for (std::uint64_t left : {2u, 1u, 0u}) {
    const BucketDecision d = take_token(rule, tat, now);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, left);
  }
  const BucketDecision refused = take_token(rule, tat, now);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_ns, kSecond / 10);
  EXPECT_FALSE(take_token(rule, tat, now + kSecond / 10 - 1).allowed);
  EXPECT_TRUE(take_token(rule, tat, now + kSecond / 10).allowed) << "one token came back";
}

TEST(TokenBucket, RefillNeverExceedsBurst) {
  const BucketRule rule = BucketRule::make(1, 1000, 2);
  std::uint64_t tat = 0;
  const std::uint64_t now = 1000 * kSecond;
  EXPECT_TRUE(take_token(rule, tat, now).allowed);
  // An hour idle is still only two tokens.
  const std::uint64_t later = now + 3600 * kSecond;
  EXPECT_TRUE(bucket_full(tat, later));
  EXPECT_TRUE(take_token(rule, tat, later).allowed);
  EXPECT_TRUE(take_token(rule, tat, later).allowed);
  EXPECT_FALSE(take_token(rule, tat, later).allowed);
}

// The largest settings the loader accepts: a lead of millions of years is
// held as 146 years, which still grants every request rather than wrapping
// around to a refusal.
TEST(TokenBucket, AHugeBurstOverALongPeriodActsAsEndlessInsteadOfWrapping) {
  const BucketRule rule = BucketRule::make(1, 24ull * 3600 * 1000, 1'000'000'000);
  std::uint64_t tat = 0;
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(take_token(rule, tat, kSecond).allowed) << i;
  EXPECT_GT(take_token(rule, tat, kSecond).remaining, 50'000u);
}

TEST(BucketTable, KeysHaveSeparateBudgets) {
  BucketTable table(BucketRule::make(10, 3'600'000, 2), 1000);
  const std::uint64_t now = kSecond;
  EXPECT_TRUE(table.take("a", now).allowed);
  EXPECT_TRUE(table.take("a", now).allowed);
  EXPECT_FALSE(table.take("a", now).allowed);
  EXPECT_TRUE(table.take("b", now).allowed);
  EXPECT_TRUE(table.take("", now).allowed);
}

TEST(BucketTable, ThreadsTakingFromOneKeyShareOneBudget) {
  BucketTable table(BucketRule::make(1, 3'600'000, 1000), 1000);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i)
        if (table.take("k", kSecond).allowed) allowed.fetch_add(1);
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(BucketTable, MemoryStaysWithinMaxKeysAndFullBucketsAreForgotten) {
  BucketTable table(BucketRule::make(1, 1000, 1), 64);
  for (int i = 0; i < 10'000; ++i)
    table.take("client-" + std::to_string(i), kSecond);
  EXPECT_LE(table.size(), 64u + 64u / 16u);
  EXPECT_GT(table.evictions(), 0u) << "spent buckets were evicted to make room";
  // Ten seconds later every bucket is full again: new keys sweep them away
  // instead of evicting.
  const std::uint64_t evicted = table.evictions();
  for (int i = 0; i < 10'000; ++i)
    table.take("other-" + std::to_string(i % 8), 10 * kSecond);
  EXPECT_LE(table.size(), 64u);
  EXPECT_EQ(table.evictions(), evicted);
}

}  // namespace
}  // namespace sluice::middleware
