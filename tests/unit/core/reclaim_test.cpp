// Giving back what a burst took (issue 13, item 18): the buffer pool and the
// frame lists free what went unused for a whole period between two trims,
// and keep what steady traffic uses.
#include <gtest/gtest.h>

#include <vector>

#include "core/buffer_pool.h"
#include "core/frame_allocator.h"

namespace sluice {
namespace {

TEST(BufferPoolTrim, BuffersABurstLeftAreFreedOnceAWholePeriodPassesWithoutThem) {
  BufferPool pool(4096, 64, 4);
  {
    std::vector<Buffer> burst;
    for (int i = 0; i < 32; ++i)
      burst.push_back(pool.acquire());
  }
  EXPECT_EQ(pool.cached(), 32u);
  // The period of the burst used them all: nothing is spare yet.
  EXPECT_EQ(pool.trim_unused(), 0u);
  EXPECT_EQ(pool.cached(), 32u);
  // A whole period without them: all but the idle reserve go.
  EXPECT_EQ(pool.trim_unused(), 28u * 4096u);
  EXPECT_EQ(pool.cached(), 4u);
  EXPECT_EQ(pool.trim_unused(), 0u);
}

TEST(BufferPoolTrim, SteadyTrafficKeepsTheBuffersItUses) {
  BufferPool pool(4096, 64, 2);
  for (int period = 0; period < 5; ++period) {
    std::vector<Buffer> in_flight;
    for (int i = 0; i < 8; ++i)
      in_flight.push_back(pool.acquire());
    in_flight.clear();
    pool.trim_unused();
    EXPECT_EQ(pool.cached(), 8u) << "period " << period;
  }
}

TEST(BufferPoolTrim, ActivityHookRunsOnTheFirstAcquireAfterEachTrim) {
  BufferPool pool(4096, 8, 1);
  int calls = 0;
  pool.set_activity_hook([](void* n) { ++*static_cast<int*>(n); }, &calls);
  pool.acquire();
  pool.acquire();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(pool.active());
  pool.trim_unused();
  EXPECT_FALSE(pool.active());
  pool.acquire();
  EXPECT_EQ(calls, 2);
}

#if !defined(__SANITIZE_ADDRESS__)  // under ASan frames are not pooled
TEST(FrameTrim, FramesABurstLeftAreFreedOnceAWholePeriodPassesWithoutThem) {
  constexpr std::size_t kBytes = 1000;  // a size no other test on this thread caches
  trim_unused_frames(0);
  trim_unused_frames(0);
  const std::size_t before = cached_frame_bytes();
  std::vector<void*> burst;
  for (int i = 0; i < 50; ++i)
    burst.push_back(allocate_frame(kBytes));
  for (void* p : burst)
    free_frame(p, kBytes);
  const std::size_t cached = cached_frame_bytes() - before;
  EXPECT_GE(cached, 50 * kBytes);
  trim_unused_frames(4);  // the burst's period: all were used
  EXPECT_EQ(cached_frame_bytes() - before, cached);
  EXPECT_GE(trim_unused_frames(4), 46 * kBytes);
  EXPECT_EQ(cached_frame_bytes() - before, cached / 50 * 4);
}

TEST(FrameTrim, LargeFramesAreReusedAndFreedLikeSmallOnes) {
  constexpr std::size_t kBytes = 9'000;  // mapped pages of their own
  std::vector<char*> frames;
  for (int i = 0; i < 8; ++i) {
    frames.push_back(static_cast<char*>(allocate_frame(kBytes)));
    frames.back()[0] = 1;
    frames.back()[kBytes - 1] = 1;  // the whole frame is writable
  }
  char* last = frames.back();
  for (char* p : frames)
    free_frame(p, kBytes);
  EXPECT_EQ(allocate_frame(kBytes), last);  // reused, not mapped again
  free_frame(last, kBytes);
  trim_unused_frames(0);
  trim_unused_frames(0);
  EXPECT_EQ(cached_frame_bytes(), 0u);
}
#endif

}  // namespace
}  // namespace sluice
