// IdlePoll: when a worker's loop polls before sleeping, and for how long.
// The loop reports each idle spell that ended in a sleep (with how long it
// lasted) or in an event caught while polling; the window it gets back is
// what the next idle spell polls for.
#include "core/idle_poll.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr std::uint64_t kMax = 25'000;  // ns
constexpr std::uint64_t kShort = 10'000;
constexpr std::uint64_t kLong = 500'000;

TEST(IdlePoll, ALoopThatHasNotBeenBusyDoesNotPoll) {
  IdlePoll poll(kMax);
  EXPECT_EQ(poll.window_ns(), 0u);
}

TEST(IdlePoll, SleepsThatEndSoonAfterTheyBeginOpenTheWindowUpToTheLongest) {
  IdlePoll poll(kMax);
  std::uint64_t last = 0;
  bool grew = false;
  for (int i = 0; i < 64; ++i) {
    poll.slept(kShort);
    grew = grew || poll.window_ns() > last;
    EXPECT_GE(poll.window_ns(), last) << "a short sleep never narrows the window";
    last = poll.window_ns();
  }
  EXPECT_TRUE(grew);
  EXPECT_EQ(poll.window_ns(), kMax);
}

TEST(IdlePoll, EventsCaughtWhilePollingKeepItPolling) {
  IdlePoll poll(kMax);
  for (int i = 0; i < 64; ++i)
    poll.slept(kShort);
  const std::uint64_t open = poll.window_ns();
  ASSERT_GT(open, 0u);
  for (int i = 0; i < 1000; ++i)
    poll.caught();
  EXPECT_EQ(poll.window_ns(), open);
}

TEST(IdlePoll, WhenTheLoadStopsThePollingStops) {
  IdlePoll poll(kMax);
  for (int i = 0; i < 64; ++i)
    poll.slept(kShort);
  ASSERT_EQ(poll.window_ns(), kMax);
  int spells = 0;
  while (poll.window_ns() != 0 && spells < 64) {
    poll.slept(kLong);
    ++spells;
  }
  EXPECT_EQ(poll.window_ns(), 0u);
  EXPECT_LE(spells, 8) << "a few long sleeps are enough to stop polling";
}

// Under a load where now and then an event takes longer than the longest
// window, the polling goes on but the window narrows: polling that long
// was waste that time.
TEST(IdlePoll, ALongSleepAmongShortOnesNarrowsTheWindowWithoutStoppingThePolling) {
  IdlePoll poll(kMax);
  for (int i = 0; i < 64; ++i)
    poll.slept(kShort);
  ASSERT_EQ(poll.window_ns(), kMax);
  poll.slept(kLong);
  EXPECT_GT(poll.window_ns(), 0u);
  EXPECT_LT(poll.window_ns(), kMax);
  poll.slept(kShort);
  EXPECT_EQ(poll.window_ns(), kMax) << "the next short sleep opens it again";
}

// A request waits briefly for its backend, then long for the next request:
// one spell in two is short. Polling would fail every other time; it never
// starts.
TEST(IdlePoll, ALightLoadWithOneShortSpellInTwoNeverPolls) {
  IdlePoll poll(kMax);
  for (int i = 0; i < 1000; ++i) {
    poll.slept(i % 2 ? kShort : kLong);
    ASSERT_EQ(poll.window_ns(), 0u) << "after spell " << i;
  }
}

TEST(IdlePoll, ALongestOfZeroNeverPolls) {
  IdlePoll poll(0);
  for (int i = 0; i < 100; ++i)
    poll.slept(0);
  EXPECT_EQ(poll.window_ns(), 0u);
}

TEST(IdlePoll, LoweringTheLongestNarrowsAnOpenWindowAtOnce) {
  IdlePoll poll(kMax);
  for (int i = 0; i < 64; ++i)
    poll.slept(kShort);
  ASSERT_EQ(poll.window_ns(), kMax);
  poll.set_max(5'000);
  EXPECT_EQ(poll.window_ns(), 5'000u);
  poll.set_max(0);
  EXPECT_EQ(poll.window_ns(), 0u);
}

}  // namespace
}  // namespace sluice
