#include "core/timer_wheel.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice {
namespace {

struct RecordingTimer : Timer {
  RecordingTimer(std::vector<int>* out, int timer_id)
      : Timer(&RecordingTimer::fire), log(out), id(timer_id) {}
  static void fire(Timer* t) {
    auto* self = static_cast<RecordingTimer*>(t);
    self->log->push_back(self->id);
  }
  std::vector<int>* log;
  int id;
};

TEST(TimerWheel, FiresInOrderOfExpiry) {
  TimerWheel wheel(1000);
  std::vector<int> fired;
  RecordingTimer a(&fired, 1), b(&fired, 2), c(&fired, 3), d(&fired, 4);
  wheel.schedule(c, 1030);
  wheel.schedule(a, 1010);
  wheel.schedule(d, 1030);  // same expiry as c: scheduled later, fires later
  wheel.schedule(b, 1020);
  wheel.advance(1009);
  EXPECT_TRUE(fired.empty());
  wheel.advance(1100);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CancelledTimerNeverFires) {
  TimerWheel wheel(0);
  std::vector<int> fired;
  RecordingTimer a(&fired, 1), b(&fired, 2);
  wheel.schedule(a, 5);
  wheel.schedule(b, 5);
  wheel.cancel(a);
  EXPECT_FALSE(a.armed());
  wheel.advance(10);
  EXPECT_EQ(fired, std::vector<int>{2});
}

TEST(TimerWheel, TimersBeyondOneRotationWaitForTheirTime) {
  TimerWheel wheel(0);
  std::vector<int> fired;
  RecordingTimer far(&fired, 1), near(&fired, 2);
  const std::uint64_t far_expiry = 3 * TimerWheel::kSlots + 7;
  wheel.schedule(far, far_expiry);
  wheel.schedule(near, 7);  // same slot, earlier rotation
  wheel.advance(7);
  EXPECT_EQ(fired, std::vector<int>{2});
  wheel.advance(far_expiry - 1);
  EXPECT_EQ(fired, std::vector<int>{2});
  wheel.advance(far_expiry);
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
}

TEST(TimerWheel, NextTimeoutPointsAtTheEarliestSlot) {
  TimerWheel wheel(100);
  std::vector<int> fired;
  RecordingTimer a(&fired, 1);
  EXPECT_FALSE(wheel.next_timeout(100).has_value());
  wheel.schedule(a, 350);
  ASSERT_TRUE(wheel.next_timeout(100).has_value());
  EXPECT_EQ(*wheel.next_timeout(100), 250u);
}

struct Rescheduler : Timer {
  explicit Rescheduler(TimerWheel* w) : Timer(&Rescheduler::fire), wheel(w) {}
  static void fire(Timer* t) {
    auto* self = static_cast<Rescheduler*>(t);
    if (++self->count < 3) self->wheel->schedule(*self, self->expiry_ms() + 1);
  }
  TimerWheel* wheel;
  int count = 0;
};

TEST(TimerWheel, CallbackMayRescheduleItself) {
  TimerWheel wheel(0);
  Rescheduler r(&wheel);
  wheel.schedule(r, 1);
  wheel.advance(100);
  EXPECT_EQ(r.count, 3);
}

struct Canceller : Timer {
  Canceller(TimerWheel* w, Timer* v) : Timer(&Canceller::fire), wheel(w), victim(v) {}
  static void fire(Timer* t) {
    auto* self = static_cast<Canceller*>(t);
    self->wheel->cancel(*self->victim);
  }
  TimerWheel* wheel;
  Timer* victim;
};

TEST(TimerWheel, CallbackMayCancelATimerDueInTheSameTick) {
  TimerWheel wheel(0);
  std::vector<int> fired;
  RecordingTimer victim(&fired, 9);
  Canceller killer(&wheel, &victim);
  wheel.schedule(killer, 5);
  wheel.schedule(victim, 5);
  wheel.advance(5);
  EXPECT_TRUE(fired.empty());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, DestroyingAnArmedTimerDisarmsIt) {
  TimerWheel wheel(0);
  std::vector<int> fired;
  {
    RecordingTimer a(&fired, 1);
    wheel.schedule(a, 3);
  }
  EXPECT_EQ(wheel.size(), 0u);
  wheel.advance(10);
  EXPECT_TRUE(fired.empty());
}

}  // namespace
}  // namespace sluice
