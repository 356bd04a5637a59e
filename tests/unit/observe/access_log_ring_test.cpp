// The ring a worker hands its access log lines over by: lines come out in
// order and whole, across the end of the buffer; a full ring refuses a line
// rather than wait; and a worker and the writer on two threads lose nothing
// the ring accepted.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "observe/access_log_ring.h"

namespace sluice::observe {
namespace {

std::vector<std::pair<std::uint32_t, std::string>> take_all(AccessLogRing& ring) {
  std::vector<std::pair<std::uint32_t, std::string>> out;
  ring.drain([&](std::uint32_t sink, std::string_view line) { out.emplace_back(sink, line); });
  return out;
}

TEST(AccessLogRing, LinesComeOutInOrderWithTheirDestination) {
  AccessLogRing ring(4096);
  EXPECT_TRUE(ring.push(0, "one\n"));
  EXPECT_TRUE(ring.push(3, "two two\n"));
  EXPECT_TRUE(ring.push(1, ""));
  const auto got = take_all(ring);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::make_pair(0u, std::string("one\n")));
  EXPECT_EQ(got[1], std::make_pair(3u, std::string("two two\n")));
  EXPECT_EQ(got[2], std::make_pair(1u, std::string()));
  EXPECT_EQ(ring.used(), 0u);
  EXPECT_TRUE(take_all(ring).empty());
}

TEST(AccessLogRing, AFullRingRefusesALineAndTakesOneAgainOnceDrained) {
  AccessLogRing ring(4096);
  const std::string line(1000, 'x');
  int accepted = 0;
  while (ring.push(0, line))
    ++accepted;
  EXPECT_EQ(accepted, 4);  // 4 x (8 + 1000) bytes of 4096
  EXPECT_EQ(take_all(ring).size(), 4u);
  EXPECT_TRUE(ring.push(0, line));
}

TEST(AccessLogRing, SaysItIsFillingUpPastAnEighthUntilDrained) {
  AccessLogRing ring(8192);
  EXPECT_TRUE(ring.push(0, std::string(900, 'x')));
  EXPECT_FALSE(ring.filling_up());  // 908 of 8192
  EXPECT_TRUE(ring.push(0, std::string(200, 'x')));
  EXPECT_TRUE(ring.filling_up());  // 1116
  take_all(ring);
  EXPECT_FALSE(ring.filling_up());
}

TEST(AccessLogRing, ALineLongerThanHalfTheRingIsRefused) {
  AccessLogRing ring(4096);
  EXPECT_FALSE(ring.push(0, std::string(2100, 'x')));
  EXPECT_TRUE(ring.push(0, std::string(2000, 'x')));
}

TEST(AccessLogRing, LinesStayWholeAcrossTheEndOfTheBuffer) {
  AccessLogRing ring(4096);
  // Lengths that leave every possible remainder at the end of the buffer.
  std::size_t n = 0;
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> sent;
    for (int k = 0; k < 3; ++k) {
      std::string line(1 + (n * 37) % 900, static_cast<char>('a' + n % 26));
      ++n;
      if (!ring.push(static_cast<std::uint32_t>(n), line)) break;
      sent.push_back(line);
    }
    const auto got = take_all(ring);
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i)
      EXPECT_EQ(got[i].second, sent[i]);
  }
}

TEST(AccessLogRing, AWorkerAndTheWriterOnTwoThreadsLoseNothingTheRingAccepted) {
  AccessLogRing ring(8192);
  constexpr int kLines = 200'000;
  std::atomic<bool> done{false};
  std::vector<int> accepted;
  std::thread producer([&] {
    for (int i = 0; i < kLines; ++i) {
      const std::string line =
          std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), '.');
      if (ring.push(static_cast<std::uint32_t>(i), line)) accepted.push_back(i);
    }
    done.store(true);
  });
  std::vector<int> seen;
  bool intact = true;
  const auto take = [&](std::uint32_t sink, std::string_view line) {
    const int i = static_cast<int>(sink);
    intact =
        intact && line == std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), '.');
    seen.push_back(i);
  };
  while (!done.load())
    ring.drain(take);
  producer.join();
  ring.drain(take);
  EXPECT_TRUE(intact);
  EXPECT_EQ(seen, accepted);
  EXPECT_GT(accepted.size(), 0u);
}

}  // namespace
}  // namespace sluice::observe
