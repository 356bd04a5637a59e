// Health checks end to end: a server whose checks start failing leaves the
// rotation within `fall` checks and returns after `rise`, with no request
// failing meanwhile; a backend with no healthy server answers 503 at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Answers /health with 200 while `healthy`, else 503; anything else with
// its own name while `serving`, else with 500 (a server that is gone
// fails the requests that still reach it).
TestBackend::Script named_server(std::string name, std::atomic<bool>& healthy,
                                 std::atomic<bool>* serving = nullptr) {
  return [name, &healthy, serving](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/health") {
        c.send(make_response(healthy ? 200 : 503, "", {"Connection: close"}));
        return;
      }
      const bool up = serving == nullptr || *serving;
      if (!c.send(up ? make_response(200, name) : make_response(500, name + " is gone"))) return;
    }
  };
}

std::string health_config(const std::string& servers) {
  return one_backend_config(
      servers,
      "    health_check: {path: /health, interval: 100ms, timeout: 300ms, rise: 2, fall: 2}\n", 2);
}

// The log lines of a server leaving and returning, as written with fall
// and rise 2: the numbers prove how many checks it took.
std::string down_line(const TestBackend& server) {
  return "backend 'app' server " + server.address() +
         ": down (2 failed checks in a row, last: status 503)";
}
std::string up_line(const TestBackend& server) {
  return "backend 'app' server " + server.address() + ": up (2 good checks in a row)";
}

// Generous: under ctest -j2 and the sanitizers a 100 ms check can be late.
constexpr auto kEventTimeout = std::chrono::seconds(20);

// Sends requests one after another until stopped; counts who answered and
// anything that failed. Tests wait on its counts (each response is an
// event), never on a clock.
class Load {
 public:
  explicit Load(std::uint16_t port) : port_(port), thread_([this] { run(); }) {}
  ~Load() { stop(); }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int a() const { return read(a_); }
  int b() const { return read(b_); }
  int failed() const { return read(failed_); }
  // Waits until `cond(a, b)` holds, up to kEventTimeout.
  template <typename Cond>
  bool wait_until(Cond cond) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kEventTimeout, [&] { return cond(a_, b_); });
  }

 private:
  int read(const int& n) const {
    std::lock_guard lock(mutex_);
    return n;
  }
  void count(int& n) {
    {
      std::lock_guard lock(mutex_);
      ++n;
    }
    changed_.notify_all();
  }
  void run() {
    auto client = std::make_unique<RawConnection>(port_);
    while (!done_) {
      std::optional<HttpResponse> r;
      if (client->send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"))
        r = client->read_response(false, 10000);
      if (!r || r->status != 200) {
        count(failed_);
        client = std::make_unique<RawConnection>(port_);
        continue;
      }
      count(r->body == "A" ? a_ : b_);
    }
  }
  std::uint16_t port_;
  std::atomic<bool> done_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int a_ = 0, b_ = 0, failed_ = 0;
  std::thread thread_;
};

TEST(Health, FailingServerLeavesAndReturnsWithoutAFailedRequest) {
  // A drains: its checks fail first, then, once sluice has taken it out,
  // it fails every request that still reaches it. It comes back serving
  // before its checks pass again. A request that reaches A while it is
  // out fails the load, so "without a failed request" can fail.
  std::atomic<bool> a_healthy{true}, a_serving{true}, b_healthy{true};
  TestBackend a(named_server("A", a_healthy, &a_serving));
  TestBackend b(named_server("B", b_healthy));
  SluiceInstance sluice(health_config(a.address() + ", " + b.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Load load(sluice.port("web"));
  ASSERT_TRUE(load.wait_until([](int from_a, int from_b) { return from_a > 20 && from_b > 20; }));

  a_healthy = false;
  ASSERT_TRUE(sluice.process().wait_for_line(down_line(a), kEventTimeout))
      << sluice.process().output();
  // The load is sequential: once B has answered two more, the request
  // that may have been on its way to A when it went down has ended.
  const int b_when_down = load.b();
  ASSERT_TRUE(load.wait_until([&](int, int from_b) { return from_b >= b_when_down + 2; }));
  const int a_when_down = load.a();
  a_serving = false;
  ASSERT_TRUE(load.wait_until([&](int, int from_b) { return from_b > b_when_down + 60; }));
  EXPECT_EQ(load.a(), a_when_down) << "traffic must shift to B only";
  EXPECT_EQ(load.failed(), 0) << "a request reached A while it was out";

  a_serving = true;
  a_healthy = true;
  ASSERT_TRUE(sluice.process().wait_for_line(up_line(a), kEventTimeout))
      << sluice.process().output();
  ASSERT_TRUE(load.wait_until([&](int from_a, int) { return from_a > a_when_down + 20; }));
  load.stop();
  EXPECT_EQ(load.failed(), 0);
}

TEST(Health, NoHealthyServerAnswers503AtOnce) {
  std::atomic<bool> healthy{false};
  TestBackend a(named_server("A", healthy));
  SluiceInstance sluice(health_config(a.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line(down_line(a), kEventTimeout))
      << sluice.process().output();
  RawConnection client(sluice.port("web"));
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response(false, 10000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "no server available\n");
  // At once: not after the queue timeout (5 s) nor a connect attempt.
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(2));
  // Only health checks reached the server, never the request.
  int others = 0;
  for (const auto& seen : a.requests())
    others += seen.target == "/health" ? 0 : 1;
  EXPECT_EQ(others, 0);
}

TEST(Sticky, CookieKeepsAClientOnItsServerAndFallsBackWhenItIsDown) {
  std::atomic<bool> a_healthy{true}, b_healthy{true};
  TestBackend a(named_server("A", a_healthy));
  TestBackend b(named_server("B", b_healthy));
  std::string yaml = health_config(a.address() + ", " + b.address());
  yaml += "    sticky: {cookie: srv}\n";
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto first = client.read_response();
  ASSERT_TRUE(first);
  const std::string set_cookie = first->header("set-cookie").value_or("");
  ASSERT_EQ(set_cookie.rfind("srv=", 0), 0u) << first->raw_head;
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  EXPECT_EQ(cookie.find(a.address()), std::string::npos) << "no address in the cookie";
  const std::string home = first->body;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\nCookie: x=1; " + cookie + "\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, home) << i;
    EXPECT_EQ(r->count("set-cookie"), 0u) << i;  // already where it belongs
  }
  // Its server goes down: the request goes to the other, with a new cookie.
  (home == "A" ? a_healthy : b_healthy) = false;
  const std::string home_address = home == "A" ? a.address() : b.address();
  ASSERT_TRUE(
      sluice.process().wait_for_line("backend 'app' server " + home_address +
                                         ": down (2 failed checks in a row, last: status 503)",
                                     kEventTimeout))
      << sluice.process().output();
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\nCookie: " + cookie + "\r\n\r\n"));
  auto moved = client.read_response();
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->status, 200);
  EXPECT_NE(moved->body, home);
  EXPECT_EQ(moved->header("set-cookie").value_or("").rfind("srv=", 0), 0u);
  EXPECT_NE(moved->header("set-cookie").value_or(""), set_cookie);
}

}  // namespace
}  // namespace sluice::test
