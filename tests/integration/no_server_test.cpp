// Every way of choosing a server can find none; each "none" must end in a
// plain answer, never a crash or a request sent somewhere else: 503 for
// HTTP, a closed connection and a log line for TCP. Found while hunting
// for the class of issue 13 items 1 and 5 (a pick that comes back empty).
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

TestBackend::Script named(std::string name, int health_status = 200) {
  return [name, health_status](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/health") {
        c.send(make_response(health_status, "", {"Connection: close"}));
        return;
      }
      if (!c.send(make_response(200, name))) return;
    }
  };
}

TEST(NoServer, HashBalancingWithEveryServerDownAnswers503) {
  TestBackend a(named("A", 500));
  TestBackend b(named("B", 500));
  SluiceInstance sluice(
      one_backend_config(a.address() + ", " + b.address(),
                         "    balance: hash\n    hash: {key: header, name: X-User}\n"
                         "    health_check: {path: /health, interval: 100ms, rise: 1, fall: 1}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_count(": down", 2, std::chrono::seconds(5)));
  for (const char* user : {"alice", "bob", "carol"}) {
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(
        client.send(std::string("GET / HTTP/1.1\r\nHost: t\r\nX-User: ") + user + "\r\n\r\n"));
    auto r = client.read_response(false, 2000);
    ASSERT_TRUE(r) << user;
    EXPECT_EQ(r->status, 503) << user;
  }
  EXPECT_TRUE(sluice.process().running());
}

TEST(NoServer, AStickyCookieNamingARemovedServerGoesToAnotherAndIsSetAnew) {
  TestBackend a(named("A"));
  TestBackend b(named("B"));
  auto yaml = [&](const std::string& servers) {
    return one_backend_config(servers, "    sticky: {cookie: srv}\n");
  };
  SluiceInstance sluice(yaml(a.address() + ", " + b.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::string cookie;
  {
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->body, "A");
    cookie = r->header("set-cookie").value_or("");
    cookie = cookie.substr(0, cookie.find(';'));
    ASSERT_EQ(cookie.rfind("srv=", 0), 0u) << cookie;
  }
  // A goes away; its clients still send its cookie.
  std::ofstream(sluice.config_path(), std::ios::trunc) << yaml(b.address());
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)));
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\nCookie: " + cookie + "\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "B");
  const std::string set = r->header("set-cookie").value_or("");
  EXPECT_EQ(set.rfind("srv=", 0), 0u) << set;
  EXPECT_NE(set.substr(0, set.find(';')), cookie);
}

TEST(NoServer, ATcpBackendWhoseEveryServerFailsClosesTheClientAndSaysSo) {
  const std::string dead1 = "127.0.0.1:" + std::to_string(free_loopback_port());
  const std::string dead2 = "127.0.0.1:" + std::to_string(free_loopback_port());
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: tcp
    listen: 127.0.0.1:0
    protocol: tcp
    backend: app
backends:
  app:
    servers: [)" + dead1 +
                        ", " + dead2 + "]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 3; ++i) {
    RawConnection client(sluice.port("tcp"));
    ASSERT_TRUE(client.send("hello"));
    EXPECT_TRUE(client.wait_closed(5000)) << i;
  }
  EXPECT_TRUE(sluice.process().wait_for_count(
      "no server of backend 'app' could be reached; closing", 3, std::chrono::seconds(5)))
      << sluice.process().output();
  EXPECT_TRUE(sluice.process().running());
}

}  // namespace
}  // namespace sluice::test
