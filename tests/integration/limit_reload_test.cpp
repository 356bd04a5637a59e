// Issue 14: max_connections across a reload. The new configuration's
// balancer started its count at zero while requests begun before the
// reload still held their slots, so a server could get twice its limit.
// A server that remains keeps its slots (and its queue) across a reload.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Holds every request until open() is called, then answers 200.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [this] { return open_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

std::future<int> get_async(std::uint16_t port, const std::string& path) {
  return std::async(std::launch::async, [port, path] {
    RawConnection c(port);
    if (!c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")) return 0;
    auto r = c.read_response(false, 20'000);
    return r ? r->status : 0;
  });
}

TEST(LimitAcrossReload, RequestsBeforeAReloadStillCountAgainstMaxConnections) {
  Gate gate;
  TestBackend backend([&gate](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      gate.wait();
      c.send(make_response(200, r.target));
    }
  });
  const std::string servers = "{address: " + backend.address() + ", max_connections: 2}";
  SluiceInstance sluice(
      one_backend_config(servers, "    queue: {timeout: 400ms}\n    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto first = get_async(port, "/1");
  auto second = get_async(port, "/2");
  ASSERT_TRUE(backend.wait_for_requests(2)) << sluice.process().output();
  // The same file again: the server remains, with the same limit.
  ASSERT_EQ(::kill(sluice.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  // Both slots are still taken: a third request waits in the queue and
  // gives up after queue.timeout, without reaching the server.
  auto third = get_async(port, "/3");
  EXPECT_EQ(third.get(), 503) << sluice.process().output();
  EXPECT_EQ(backend.requests().size(), 2u);
  gate.open();
  EXPECT_EQ(first.get(), 200);
  EXPECT_EQ(second.get(), 200);
  // Their slots are free again: the next request is served at once.
  EXPECT_EQ(get_async(port, "/4").get(), 200);
}

TEST(LimitAcrossReload, RaisingTheLimitByReloadLetsAWaitingRequestIn) {
  Gate gate;
  TestBackend backend([&gate](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target != "/waiting") gate.wait();
      c.send(make_response(200, r.target));
    }
  });
  const auto config = [&](int max) {
    return one_backend_config(
        "{address: " + backend.address() + ", max_connections: " + std::to_string(max) + "}",
        "    queue: {timeout: 5s}\n", 1, "log: {level: debug}\n");
  };
  SluiceInstance sluice(config(1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  auto holder = get_async(port, "/holder");
  ASSERT_TRUE(backend.wait_for_requests(1));
  auto waiting = get_async(port, "/waiting");
  ASSERT_TRUE(sluice.process().wait_for_line("request queued", std::chrono::seconds(10)))
      << sluice.process().output();
  sluice.dir().write("sluice.yaml", config(2));
  ASSERT_EQ(::kill(sluice.process().pid(), SIGHUP), 0);
  // The raised limit admits the waiting request while the holder still runs.
  EXPECT_EQ(waiting.get(), 200) << sluice.process().output();
  gate.open();
  EXPECT_EQ(holder.get(), 200);
}

}  // namespace
}  // namespace sluice::test
