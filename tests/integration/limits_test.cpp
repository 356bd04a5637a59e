// max_connections and the queue: a server never sees more requests at once
// than its limit, across workers; the excess waits in order, and gets 503
// when its wait passes queue.timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

struct SlowServer {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  TestBackend backend{[this](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const int n = ++now;
      int seen = most.load();
      while (n > seen && !most.compare_exchange_weak(seen, n)) {
      }
      // The slow part of a slow request (the scenario, not a synchronisation).
      std::this_thread::sleep_for(std::chrono::milliseconds(60));
      --now;
      if (!c.send(make_response(200, "done"))) return;
    }
  }};
};

std::string limited_config(const std::string& server, const std::string& queue) {
  return one_backend_config("{address: " + server + ", max_connections: 2}",
                            "    queue: " + queue + "\n", 2);
}

std::vector<int> fire(std::uint16_t port, int n) {
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<RawConnection>(port));
    clients.back()->send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  std::vector<int> statuses;
  for (auto& c : clients) {
    auto r = c->read_response(false, 20000);
    statuses.push_back(r ? r->status : 0);
  }
  return statuses;
}

TEST(Limits, TwentyConcurrentRequestsThroughMaxConnectionsTwoAllSucceedTwoAtATime) {
  SlowServer server;
  SluiceInstance sluice(limited_config(server.backend.address(), "{timeout: 10s}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto statuses = fire(sluice.port("web"), 20);
  for (int s : statuses)
    EXPECT_EQ(s, 200);
  EXPECT_LE(server.most.load(), 2);
  EXPECT_EQ(server.most.load(), 2);  // and the limit was used
  EXPECT_EQ(server.backend.requests().size(), 20u);
}

TEST(Limits, WaitsPastTheQueueTimeoutGet503) {
  SlowServer server;
  SluiceInstance sluice(limited_config(server.backend.address(), "{timeout: 100ms}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto statuses = fire(sluice.port("web"), 20);
  int ok = 0, unavailable = 0;
  for (int s : statuses) {
    ok += s == 200 ? 1 : 0;
    unavailable += s == 503 ? 1 : 0;
  }
  EXPECT_EQ(ok + unavailable, 20);
  EXPECT_GE(ok, 2);
  EXPECT_GE(unavailable, 1);
  EXPECT_LE(server.most.load(), 2);
  EXPECT_EQ(static_cast<int>(server.backend.requests().size()), ok);
}

TEST(Limits, AFullQueueGets503AtOnce) {
  SlowServer server;
  SluiceInstance sluice(limited_config(server.backend.address(), "{timeout: 10s, max_size: 1}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto statuses = fire(sluice.port("web"), 8);
  int unavailable = 0;
  for (int s : statuses)
    unavailable += s == 503 ? 1 : 0;
  // Two in flight and at most one waiting at any moment: most are refused.
  EXPECT_GE(unavailable, 1);
  EXPECT_LE(server.most.load(), 2);
}

}  // namespace
}  // namespace sluice::test
