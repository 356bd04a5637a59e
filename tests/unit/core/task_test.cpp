// Task<T>::ready: a task that is done before anyone awaits it, with no
// coroutine frame, for functions whose usual case completes at once.
#include "core/task.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/frame_allocator.h"

namespace sluice {
namespace {

Task<int> seven_from_a_coroutine() {
  co_return 7;
}

// The caller's pattern: done at once when it can be, a coroutine when not.
Task<std::unique_ptr<std::string>> name_now_or_later(bool now) {
  if (now) return Task<std::unique_ptr<std::string>>::ready(std::make_unique<std::string>("now"));
  return []() -> Task<std::unique_ptr<std::string>> {
    co_return std::make_unique<std::string>("later");
  }();
}

Task<void> await_both(int& number, std::string& names) {
  number = co_await Task<int>::ready(41) + co_await seven_from_a_coroutine();
  const std::unique_ptr<std::string> a = co_await name_now_or_later(true);
  const std::unique_ptr<std::string> b = co_await name_now_or_later(false);
  names = *a + "," + *b;
  co_await Task<void>::ready();
}

TEST(Task, AReadyTaskGivesItsResultToItsAwaiterAsACoroutineWould) {
  int number = 0;
  std::string names;
  spawn(await_both(number, names));
  EXPECT_EQ(number, 48);
  EXPECT_EQ(names, "now,later");
}

TEST(Task, AReadyTaskHoldsNoFrameWhereACoroutineHoldsOne) {
  { auto warm = seven_from_a_coroutine(); }  // its frame goes to the cache
  const std::size_t cached = cached_frame_bytes();
  if (cached == 0) GTEST_SKIP() << "frames are not pooled in this build (sanitizers)";
  {
    const Task<int> coroutine = seven_from_a_coroutine();
    EXPECT_LT(cached_frame_bytes(), cached);  // the control: it took a frame
  }
  EXPECT_EQ(cached_frame_bytes(), cached);
  {
    const Task<int> ready = Task<int>::ready(7);
    EXPECT_EQ(cached_frame_bytes(), cached);
  }
}

TEST(Task, AReadyTaskSpawnedDetachedDoesNothingAndEndsAtOnce) {
  spawn(Task<void>::ready());  // nothing to resume: must not touch a frame
  SUCCEED();
}

enum class Small : std::uint8_t { zero, one, last = 255 };

// Every idle connection's frame holds Tasks of bool and of an enum while it
// waits: being able to be ready must not make them a word larger.
TEST(Task, ATaskOfASmallResultIsOneWordAndKeepsEveryValueWhenReady) {
  static_assert(sizeof(Task<bool>) == sizeof(void*));
  static_assert(sizeof(Task<Small>) == sizeof(void*));
  static_assert(sizeof(Task<int>) == sizeof(void*));
  for (bool b : {false, true}) {
    Task<bool> t = Task<bool>::ready(b);
    ASSERT_TRUE(t.await_ready());
    EXPECT_EQ(t.await_resume(), b);
  }
  for (Small v : {Small::zero, Small::one, Small::last}) {
    Task<Small> t = Task<Small>::ready(v);
    ASSERT_TRUE(t.await_ready());
    EXPECT_EQ(t.await_resume(), v);
  }
  for (int v : {0, 1, -1, 2147483647, -2147483647 - 1}) {
    Task<int> t = Task<int>::ready(v);
    Task<int> moved = std::move(t);
    ASSERT_TRUE(moved.await_ready());
    EXPECT_EQ(moved.await_resume(), v);
  }
}

TEST(Task, AMovedReadyTaskCarriesItsResult) {
  Task<std::unique_ptr<int>> a = Task<std::unique_ptr<int>>::ready(std::make_unique<int>(5));
  Task<std::unique_ptr<int>> b = std::move(a);
  ASSERT_TRUE(b.await_ready());
  const std::unique_ptr<int> v = b.await_resume();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 5);
}

}  // namespace
}  // namespace sluice
