#include "core/buffer_pool.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(BufferPool, ReturnedBuffersAreReused) {
  BufferPool pool(4096, 8);
  char* first;
  {
    Buffer b = pool.acquire();
    ASSERT_TRUE(b);
    EXPECT_EQ(b.capacity(), 4096u);
    EXPECT_EQ(pool.in_use(), 1u);
    first = b.data();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
  Buffer again = pool.acquire();
  EXPECT_EQ(again.data(), first);
}

TEST(BufferPool, CacheIsBoundedSoABurstDoesNotPinItsPeak) {
  BufferPool pool(1024, 2);
  {
    Buffer a = pool.acquire(), b = pool.acquire(), c = pool.acquire(), d = pool.acquire();
    EXPECT_EQ(pool.in_use(), 4u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.cached(), 2u);
}

TEST(BufferPool, MovedBufferIsReturnedOnce) {
  BufferPool pool(1024, 4);
  Buffer a = pool.acquire();
  Buffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  b.reset();
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.cached(), 1u);
}

}  // namespace
}  // namespace sluice
