// Issue 13 item 8: a request that times out on a reused (pooled) connection
// is the server's slowness, not the keep-alive race. Its retry counts
// against the retry budget, and the timeout counts as a failure of the
// server (passive health), as on a fresh connection. Only a close or reset
// before any response byte on a reused connection is benign.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

// Warms `n` pooled connections at once: each of the first `n` connections
// answers its first request only when `n` requests are in, so all `n` are
// open together; every later request on them is never answered.
TestBackend::Script first_answer_then_silence(std::size_t n) {
  return [n](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    if (c.index() <= static_cast<int>(n)) {
      c.backend().wait_for_requests(n);
      c.send(make_response(200, "warm"));
      if (!c.read_request(r)) return;
    }
    c.wait_closed(20'000);  // silence until sluice gives up
  };
}

// Sends GET /warm on `n` connections at once and expects 200 on each.
void warm_pool(std::uint16_t port, std::size_t n) {
  std::vector<std::future<int>> warm;
  for (std::size_t i = 0; i < n; ++i) {
    warm.push_back(std::async(std::launch::async, [port] {
      RawConnection c(port);
      if (!c.send(get("/warm"))) return 0;
      auto r = c.read_response();
      return r ? r->status : 0;
    }));
  }
  for (auto& f : warm)
    ASSERT_EQ(f.get(), 200);
}

TEST(PooledTimeout, TimeoutsOnPooledConnectionsCountAsFailuresAndEjectTheServer) {
  TestBackend backend(first_answer_then_silence(3));
  SluiceInstance sluice(one_backend_config(backend.address(),
                                           "    timeouts: {response: 300ms}\n"
                                           "    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  warm_pool(sluice.port("web"), 3);
  // Three requests, each on one of the three pooled connections, each
  // unanswered: three failures in a row eject the server.
  for (int i = 0; i < 3; ++i) {
    RawConnection c(sluice.port("web"));
    ASSERT_TRUE(c.send(get("/slow")));
    auto r = c.read_response(false, 5'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 504);
  }
  EXPECT_EQ(backend.accepted(), 3) << "every slow request went over a pooled connection";
  EXPECT_TRUE(
      sluice.process().wait_for_line("3 failures in a row; ejected", std::chrono::seconds(5)))
      << sluice.process().output();
}

TEST(PooledTimeout, RetriesAfterPooledTimeoutsStayWithinTheRetryBudget) {
  // Six pooled connections, six requests on them at once, all unanswered.
  // The budget lets 3 retries run at a time (the floor for a small
  // backend), so exactly 3 are resent and the other 3 get 504 at once.
  constexpr std::size_t kWarm = 6;
  // Clients that got their 504; retries are answered once the requests
  // that were refused a retry have had their answer (or after 300 ms, less
  // than a try's timeout), so the retries in flight hold the budget
  // meanwhile.
  std::mutex mu;
  std::condition_variable cv;
  int gave_up = 0;
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    if (c.index() <= static_cast<int>(kWarm)) {
      c.backend().wait_for_requests(kWarm);
      c.send(make_response(200, "warm"));
      if (!c.read_request(r)) return;
      c.wait_closed(20'000);  // the pooled try: never answered
      return;
    }
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(300), [&] { return gave_up >= 3; });
    }
    c.send(make_response(200, "retried"));
  });
  SluiceInstance sluice(one_backend_config(backend.address(),
                                           "    timeouts: {response: 400ms}\n"
                                           "    retries: {attempts: 1}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  warm_pool(sluice.port("web"), kWarm);
  std::vector<std::future<int>> slow;
  for (std::size_t i = 0; i < kWarm; ++i) {
    slow.push_back(std::async(std::launch::async, [&, port = sluice.port("web")] {
      RawConnection c(port);
      if (!c.send(get("/slow"))) return 0;
      auto r = c.read_response(false, 10'000);
      if (r && r->status == 504) {
        std::lock_guard lock(mu);
        ++gave_up;
        cv.notify_all();
      }
      return r ? r->status : 0;
    }));
  }
  int ok = 0;
  int timed_out = 0;
  for (auto& f : slow) {
    const int status = f.get();
    ok += status == 200 ? 1 : 0;
    timed_out += status == 504 ? 1 : 0;
  }
  EXPECT_EQ(ok, 3) << sluice.process().output();
  EXPECT_EQ(timed_out, 3);
  EXPECT_EQ(backend.accepted(), static_cast<int>(kWarm) + 3);
}

}  // namespace
}  // namespace sluice::test
