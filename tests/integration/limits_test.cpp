// max_connections and the queue: a server never sees more requests at once
// than its limit, across workers; the excess waits in order, and gets 503
// when its wait passes queue.timeout, or at once when the queue is full.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

using Clock = std::chrono::steady_clock;

// A server that holds every request until the test lets one through: what
// it holds at once, and the order requests reached it, are the facts.
class GatedServer {
 public:
  GatedServer()
      : backend_([this](BackendConnection& c) {
          ReceivedRequest r;
          while (c.read_request(r, 30000)) {
            {
              std::unique_lock lock(mutex_);
              ++arrived_;
              most_ = std::max(most_, ++held_);
              changed_.notify_all();
              changed_.wait_for(lock, std::chrono::seconds(30), [&] { return permits_ > 0; });
              --permits_;
              --held_;
            }
            if (!c.send(make_response(200, "done " + r.target))) return;
          }
        }) {}
  ~GatedServer() { let_through(1000); }  // unblock scripts the test left waiting

  std::string address() const { return backend_.address(); }
  TestBackend& backend() { return backend_; }
  // Waits (20 s at most) until `n` requests have reached the gate.
  bool wait_for_arrivals(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return arrived_ >= n; });
  }
  // Lets `n` held (or future) requests be answered.
  void let_through(int n) {
    {
      std::lock_guard lock(mutex_);
      permits_ += n;
    }
    changed_.notify_all();
  }
  int most_at_once() const {
    std::lock_guard lock(mutex_);
    return most_;
  }
  std::vector<std::string> targets_in_arrival_order() const {
    std::vector<std::string> out;
    for (const auto& r : backend_.requests())
      out.push_back(r.target);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  int held_ = 0;
  int most_ = 0;
  int permits_ = 0;
  TestBackend backend_;
};

// `workers` 2: the limit is shared across workers. A built-in /probe route
// answers at once without touching the limit.
std::string limited_config(const std::string& server, const std::string& queue, int workers = 2) {
  return "workers: " + std::to_string(workers) + R"(
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: probe
    match: {path_exact: /probe}
    respond: {status: 200, body: "probe\n"}
  - name: app
    backend: app
backends:
  app:
    servers: [{address: )" +
         server + ", max_connections: 2}]\n    queue: " + queue + "\n";
}

struct Outcome {
  int status = 0;  // 0: no response
  Clock::duration waited{};
};

// Requests on their own connections, each read by its own thread, so a
// test can wait for some outcomes while other requests are still held.
class Clients {
 public:
  Clients(std::uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      results_.push_back(std::async(std::launch::async, [this, port, i] {
        RawConnection c(port);
        const auto sent = Clock::now();
        c.send("GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n");
        auto r = c.read_response(false, 30000);
        Outcome o{r ? r->status : 0, Clock::now() - sent};
        {
          std::lock_guard lock(mutex_);
          ++by_status_[o.status];
        }
        changed_.notify_all();
        return o;
      }));
    }
  }
  // Waits (20 s at most) until `n` responses with `status` have arrived.
  bool wait_for(int status, int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20),
                             [&] { return by_status_[status] >= n; });
  }
  std::vector<Outcome> all() {
    std::vector<Outcome> out;
    for (auto& f : results_)
      out.push_back(f.get());
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<int, int> by_status_;
  std::vector<std::future<Outcome>> results_;
};

TEST(Limits, TwentyConcurrentRequestsThroughMaxConnectionsTwoAllSucceedTwoAtATime) {
  GatedServer server;
  SluiceInstance sluice(limited_config(server.address(), "{timeout: 20s}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Clients clients(sluice.port("web"), 20);
  // Each request let through frees one slot, and one more reaches the
  // server while the rest stay held: never a third at once.
  for (int reached = 2; reached <= 20; ++reached) {
    ASSERT_TRUE(server.wait_for_arrivals(reached)) << reached;
    EXPECT_EQ(server.most_at_once(), 2) << "after " << reached << " reached the server";
    server.let_through(1);
  }
  server.let_through(1);
  for (const Outcome& o : clients.all())
    EXPECT_EQ(o.status, 200);
  EXPECT_EQ(server.most_at_once(), 2);
  EXPECT_EQ(server.backend().requests().size(), 20u);
}

TEST(Limits, QueuedRequestsReachTheServerInTheOrderTheyArrived) {
  GatedServer server;
  // One worker: a /probe answered after a request was sent shows that the
  // worker has read that request (and queued it) first.
  SluiceInstance sluice(limited_config(server.address(), "{timeout: 20s}", 1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::vector<std::unique_ptr<RawConnection>> clients;
  auto send = [&](int i) {
    clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(
        clients.back()->send("GET /q" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  };
  send(0);
  send(1);
  ASSERT_TRUE(server.wait_for_arrivals(2));
  RawConnection probe(sluice.port("web"));
  for (int i = 2; i < 10; ++i) {
    send(i);
    ASSERT_EQ(get_body(probe, "/probe"), "probe\n") << i;
  }
  // One slot at a time: the head of the queue goes next.
  for (int reached = 3; reached <= 10; ++reached) {
    server.let_through(1);
    ASSERT_TRUE(server.wait_for_arrivals(reached)) << reached;
    EXPECT_EQ(server.targets_in_arrival_order().back(), "/q" + std::to_string(reached - 1));
  }
  server.let_through(2);
  for (auto& c : clients) {
    auto r = c->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.most_at_once(), 2);
}

TEST(Limits, WaitsPastTheQueueTimeoutGet503) {
  GatedServer server;
  SluiceInstance sluice(limited_config(server.address(), "{timeout: 100ms}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Clients clients(sluice.port("web"), 20);
  // Two hold the slots; the other 18 wait 100 ms and are refused.
  ASSERT_TRUE(clients.wait_for(503, 18)) << sluice.process().output();
  ASSERT_TRUE(server.wait_for_arrivals(2));
  server.let_through(2);
  int ok = 0, unavailable = 0;
  for (const Outcome& o : clients.all()) {
    ok += o.status == 200 ? 1 : 0;
    if (o.status != 503) continue;
    ++unavailable;
    EXPECT_GE(o.waited, std::chrono::milliseconds(100) - kTimerEarliness)
        << "refused before its wait ended";
    EXPECT_LT(o.waited, std::chrono::milliseconds(100 + 1900)) << "waited far past the timeout";
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(unavailable, 18);
  EXPECT_EQ(server.most_at_once(), 2);
  EXPECT_EQ(server.backend().requests().size(), 2u);
}

TEST(Limits, AFullQueueGets503AtOnce) {
  GatedServer server;
  SluiceInstance sluice(limited_config(server.address(), "{timeout: 20s, max_size: 1}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Clients clients(sluice.port("web"), 8);
  // Two in flight and one waiting: the other five are refused at once,
  // long before the 20 s queue timeout.
  ASSERT_TRUE(clients.wait_for(503, 5)) << sluice.process().output();
  ASSERT_TRUE(server.wait_for_arrivals(2));
  server.let_through(3);
  int ok = 0, unavailable = 0;
  for (const Outcome& o : clients.all()) {
    ok += o.status == 200 ? 1 : 0;
    if (o.status != 503) continue;
    ++unavailable;
    EXPECT_LT(o.waited, std::chrono::seconds(2));
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(unavailable, 5);
  EXPECT_EQ(server.most_at_once(), 2);
  EXPECT_EQ(server.backend().requests().size(), 3u);
}

}  // namespace
}  // namespace sluice::test
