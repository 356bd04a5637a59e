// Health checks end to end: a server whose checks start failing leaves the
// rotation within `fall` checks and returns after `rise`, with no request
// failing meanwhile; a backend with no healthy server answers 503 at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
// its own name.
TestBackend::Script named_server(std::string name, std::atomic<bool>& healthy) {
  return [name, &healthy](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/health") {
        c.send(make_response(healthy ? 200 : 503, "", {"Connection: close"}));
        return;
      }
      if (!c.send(make_response(200, name))) return;
    }
  };
}

std::string health_config(const std::string& servers) {
  return one_backend_config(
      servers,
      "    health_check: {path: /health, interval: 100ms, timeout: 300ms, rise: 2, fall: 2}\n", 2);
}

// Sends requests one after another until stopped; counts who answered and
// anything that failed.
struct Load {
  explicit Load(std::uint16_t port) : port_(port), thread_([this] { run(); }) {}
  ~Load() { stop(); }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void run() {
    auto client = std::make_unique<RawConnection>(port_);
    while (!done_) {
      if (!client->send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")) {
        ++failed_;
        client = std::make_unique<RawConnection>(port_);
        continue;
      }
      auto r = client->read_response(false, 5000);
      if (!r || r->status != 200) {
        ++failed_;
        client = std::make_unique<RawConnection>(port_);
        continue;
      }
      (r->body == "A" ? a_ : b_)++;
    }
  }
  std::uint16_t port_;
  std::atomic<bool> done_{false};
  std::atomic<int> a_{0}, b_{0}, failed_{0};
  std::thread thread_;
};

// Waits (bounded) until `cond` holds; the load thread is what makes it so.
template <typename Cond>
bool eventually(Cond cond, int timeout_ms = 5000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::yield();
  }
  return cond();
}

TEST(Health, FailingServerLeavesAndReturnsWithoutAFailedRequest) {
  std::atomic<bool> a_healthy{true}, b_healthy{true};
  TestBackend a(named_server("A", a_healthy));
  TestBackend b(named_server("B", b_healthy));
  SluiceInstance sluice(health_config(a.address() + ", " + b.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Load load(sluice.port("web"));
  ASSERT_TRUE(eventually([&] { return load.a_ > 20 && load.b_ > 20; }));

  a_healthy = false;
  const auto failed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      sluice.process().wait_for_line("server " + a.address() + ": down", std::chrono::seconds(5)))
      << sluice.process().output();
  // fall = 2 checks at 100 ms: out well within a second.
  EXPECT_LT(std::chrono::steady_clock::now() - failed_at, std::chrono::milliseconds(1500));
  // A request already on its way to A when it went down may still finish.
  const int b_when_down = load.b_;
  ASSERT_TRUE(eventually([&] { return load.b_ > b_when_down + 5; }));
  const int a_when_down = load.a_;
  ASSERT_TRUE(eventually([&] { return load.b_ > b_when_down + 60; }));
  EXPECT_EQ(load.a_, a_when_down) << "traffic must shift to B only";

  a_healthy = true;
  ASSERT_TRUE(
      sluice.process().wait_for_line("server " + a.address() + ": up", std::chrono::seconds(5)))
      << sluice.process().output();
  ASSERT_TRUE(eventually([&] { return load.a_ > a_when_down + 20; }));
  load.stop();
  EXPECT_EQ(load.failed_, 0);
}

TEST(Health, NoHealthyServerAnswers503AtOnce) {
  std::atomic<bool> healthy{false};
  TestBackend a(named_server("A", healthy));
  SluiceInstance sluice(health_config(a.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line("down", std::chrono::seconds(5)));
  const int served_before = static_cast<int>(a.requests().size());
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response(false, 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "no server available\n");
  // Only health checks reached the server, never the request.
  for (const auto& seen : a.requests())
    EXPECT_EQ(seen.target, "/health");
  EXPECT_GE(static_cast<int>(a.requests().size()), served_before);
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
      sluice.process().wait_for_line("server " + home_address + ": down", std::chrono::seconds(5)));
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
