// The max_connections queue. Issue 13 item 6: requests that gave up
// waiting (timed out) stayed in the queue and counted against
// queue.max_size, so a queue of ghosts answered every new request 503 at
// once; and with no max_size the queue grew without bound. Now only live
// waiters count, they are served in arrival order, max_size defaults to
// 1024 per server, and a queue timeout of 0 means "do not wait".
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// A server whose /hold request waits until the test opens the gate; every
// other request is answered at once with its own target.
class GatedServer {
 public:
  GatedServer()
      : backend_([this](BackendConnection& c) {
          ReceivedRequest r;
          while (c.read_request(r, 60'000)) {
            if (r.target == "/hold") {
              std::unique_lock lock(mutex_);
              opened_.wait_for(lock, std::chrono::seconds(60), [this] { return open_; });
            }
            if (!c.send(make_response(200, r.target))) return;
          }
        }) {}
  ~GatedServer() { open(); }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  TestBackend& backend() { return backend_; }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  TestBackend backend_;
};

// One server at max_connections 1; debug logs show each request queued.
std::string one_slot_config(const std::string& server, const std::string& queue) {
  return one_backend_config("{address: " + server + ", max_connections: 1}",
                            queue.empty() ? "" : "    queue: " + queue + "\n", 1,
                            "log: {level: debug}\n");
}

std::unique_ptr<RawConnection> send_get(std::uint16_t port, const std::string& target) {
  auto c = std::make_unique<RawConnection>(port);
  c->send("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n");
  return c;
}

int status_of(RawConnection& c, int timeout_ms = 10'000) {
  auto r = c.read_response(false, timeout_ms);
  return r ? r->status : 0;
}

TEST(Queue, RequestsThatTimedOutLeaveTheQueueSoLaterOnesWaitAndAreServed) {
  GatedServer server;
  SluiceInstance sluice(
      one_slot_config(server.backend().address(), "{timeout: 1500ms, max_size: 2}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto holder = send_get(port, "/hold");
  ASSERT_TRUE(server.backend().wait_for_requests(1));

  // Two fill the queue and give up after its timeout.
  auto b = send_get(port, "/b");
  auto c = send_get(port, "/c");
  EXPECT_TRUE(sluice.process().wait_for_count("request queued", 2, std::chrono::seconds(5)));
  EXPECT_EQ(status_of(*b), 503);
  EXPECT_EQ(status_of(*c), 503);

  // They are gone: two more wait in their place instead of a 503 at once.
  auto d = send_get(port, "/d");
  EXPECT_TRUE(sluice.process().wait_for_count("request queued", 3, std::chrono::seconds(2)));
  auto e = send_get(port, "/e");
  EXPECT_TRUE(sluice.process().wait_for_count("request queued", 4, std::chrono::seconds(2)));
  server.open();
  EXPECT_EQ(status_of(*holder), 200);
  EXPECT_EQ(status_of(*d), 200);
  EXPECT_EQ(status_of(*e), 200);
  const auto seen = server.backend().requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].target, "/d");  // in the order they came
  EXPECT_EQ(seen[2].target, "/e");
}

// The wait shows in /metrics: one observation per queued request, as long
// as it waited; none for a request admitted at once.
TEST(Queue, TheTimeARequestWaitedIsInTheQueueWaitHistogram) {
  GatedServer server;
  SluiceInstance sluice(one_backend_config(
      "{address: " + server.backend().address() + ", max_connections: 1}",
      "    queue: {timeout: 20s}\n", 1, "log: {level: debug}\nadmin: {listen: 127.0.0.1:0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto holder = send_get(port, "/hold");
  ASSERT_TRUE(server.backend().wait_for_requests(1));
  auto waiting = send_get(port, "/waits");
  ASSERT_TRUE(sluice.process().wait_for_count("request queued", 1, std::chrono::seconds(5)));
  const auto queued_at = std::chrono::steady_clock::now();
  // The holder's server answers only when told: the queued one waits at
  // least until then.
  while (std::chrono::steady_clock::now() - queued_at < std::chrono::milliseconds(50)) {
    pollfd answer{waiting->fd(), POLLIN, 0};
    ASSERT_EQ(::poll(&answer, 1, 5), 0);  // no answer while its slot is taken
  }
  server.open();
  EXPECT_EQ(status_of(*holder), 200);
  EXPECT_EQ(status_of(*waiting), 200);
  const std::string series = "{backend=\"app\",server=\"" + server.backend().address() + "\"}";
  std::string text;
  for (int i = 0; i < 500; ++i) {  // counted when each connection is done with its request
    auto r = sluice.admin_get("/metrics");
    ASSERT_TRUE(r && r->status == 200);
    text = r->body;
    if (text.find("sluice_queue_wait_seconds_count" + series + " 1\n") != std::string::npos &&
        text.find("sluice_first_byte_seconds_count" + series + " 2\n") != std::string::npos) {
      break;
    }
    sluice.process().output();
  }
  EXPECT_NE(text.find("sluice_queue_wait_seconds_count" + series + " 1\n"), std::string::npos)
      << text;
  // At least the 50 ms it was held back: nothing under the 0.05 s bucket.
  EXPECT_NE(text.find("sluice_queue_wait_seconds_bucket{backend=\"app\",server=\"" +
                      server.backend().address() + "\",le=\"0.025\"} 0\n"),
            std::string::npos)
      << text;
}

TEST(Queue, WaitingRequestsAreServedInTheOrderTheyArrived) {
  GatedServer server;
  SluiceInstance sluice(one_slot_config(server.backend().address(), "{timeout: 20s}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto holder = send_get(port, "/hold");
  ASSERT_TRUE(server.backend().wait_for_requests(1));
  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 1; i <= 6; ++i) {
    waiting.push_back(send_get(port, "/" + std::to_string(i)));
    ASSERT_TRUE(sluice.process().wait_for_count("request queued", static_cast<std::size_t>(i),
                                                std::chrono::seconds(5)))
        << sluice.process().output();
  }
  server.open();
  EXPECT_EQ(status_of(*holder), 200);
  for (auto& w : waiting)
    EXPECT_EQ(status_of(*w), 200);
  const auto seen = server.backend().requests();
  ASSERT_EQ(seen.size(), 7u);
  for (int i = 1; i <= 6; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)].target, "/" + std::to_string(i));
}

TEST(Queue, WithoutMaxSizeAServerQueuesAtMost1024AndRefusesTheNextAtOnce) {
  GatedServer server;
  SluiceInstance sluice(one_slot_config(server.backend().address(), "{timeout: 60s}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto holder = send_get(port, "/hold");
  ASSERT_TRUE(server.backend().wait_for_requests(1));
  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 0; i < 1024; ++i)
    waiting.push_back(send_get(port, "/q"));
  ASSERT_TRUE(sluice.process().wait_for_count("request queued", 1024, std::chrono::seconds(30)));
  auto refused = send_get(port, "/over");
  EXPECT_EQ(status_of(*refused, 5'000), 503) << "the 1025th waiting request is refused at once";
  server.open();
  EXPECT_EQ(status_of(*holder), 200);
  int served = 0;
  for (auto& w : waiting)
    served += status_of(*w, 30'000) == 200 ? 1 : 0;
  EXPECT_EQ(served, 1024);
}

TEST(Queue, AZeroQueueTimeoutRefusesAtOnceInsteadOfWaitingForever) {
  GatedServer server;
  SluiceInstance sluice(one_slot_config(server.backend().address(), "{timeout: 0s}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto holder = send_get(port, "/hold");
  ASSERT_TRUE(server.backend().wait_for_requests(1));
  auto over = send_get(port, "/over");
  EXPECT_EQ(status_of(*over, 3'000), 503);
  server.open();
  EXPECT_EQ(status_of(*holder), 200);
}

}  // namespace
}  // namespace sluice::test
