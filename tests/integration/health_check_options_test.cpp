// Health checks that name-based servers and redirecting servers pass.
// Issue 13 item 12: checks sent "Host: <ip:port>" and accepted exactly one
// status, so a virtual host answering 421 for unknown names, or a server
// answering its health path with a redirect, was taken down while healthy.
// Now health_check.host sets the Host sent and expect_status takes a
// status, a range or a list, by default 200-399.
#include <gtest/gtest.h>

#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Answers /health with `status` (421 instead when `host` is set and the
// request names another); any other request with `name`.
TestBackend::Script checked_server(std::string name, int status, std::string host = {}) {
  return [=](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/health") {
        const bool misdirected = !host.empty() && r.header("host") != host;
        c.send(make_response(misdirected ? 421 : status, "",
                             {"Connection: close", "Location: /elsewhere"}));
        return;
      }
      if (!c.send(make_response(200, name))) return;
    }
  };
}

// Waits until `b` has answered `n` checks (no other request has reached it
// yet); each verdict is in by the time the next check arrives, since the
// probes of one server run one after another.
bool wait_for_checks(TestBackend& b, std::size_t n) {
  return b.wait_for_requests(n);
}

std::string checked_config(const std::string& servers, const std::string& check_extra) {
  return one_backend_config(servers,
                            "    health_check: {path: /health, interval: 100ms, timeout: 500ms, "
                            "rise: 1, fall: 1" +
                                check_extra + "}\n");
}

TEST(HealthCheckOptions, HostOptionKeepsANameBasedVirtualHostUp) {
  TestBackend vhost(checked_server("vhost", 200, "app.example"));
  SluiceInstance sluice(checked_config(vhost.address(), ", host: app.example"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(wait_for_checks(vhost, 4));
  for (const auto& r : vhost.requests())
    EXPECT_EQ(r.header("host"), "app.example");
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/"), "vhost");
  EXPECT_EQ(sluice.process().count(": down"), 0u) << sluice.process().output();
}

TEST(HealthCheckOptions, ByDefaultARedirectIsUpAndAServerErrorIsDown) {
  TestBackend redirecting(checked_server("redirecting", 302));
  TestBackend failing(checked_server("failing", 500));
  SluiceInstance sluice(checked_config(redirecting.address() + ", " + failing.address(), ""));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line("server " + failing.address() + ": down",
                                             std::chrono::seconds(5)))
      << sluice.process().output();
  ASSERT_TRUE(wait_for_checks(redirecting, 4));
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(get_body(client, "/"), "redirecting") << i;
  EXPECT_EQ(sluice.process().count("server " + redirecting.address() + ": down"), 0u)
      << sluice.process().output();
}

TEST(HealthCheckOptions, ExpectStatusTakesAListOrARange) {
  TestBackend no_content(checked_server("no-content", 204));
  TestBackend redirecting(checked_server("redirecting", 302));
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - {name: listed, match: {path: /listed}, backend: listed}
  - {name: ranged, match: {path: /ranged}, backend: ranged}
backends:
  listed:
    servers: [)" + no_content.address() +
                        R"(]
    health_check: {path: /health, expect_status: [200, 204], interval: 100ms, rise: 1, fall: 1}
  ranged:
    servers: [)" + redirecting.address() +
                        R"(]
    health_check: {path: /health, expect_status: 200-299, interval: 100ms, rise: 1, fall: 1}
)");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line("server " + redirecting.address() + ": down",
                                             std::chrono::seconds(5)))
      << sluice.process().output();
  ASSERT_TRUE(wait_for_checks(no_content, 4));
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/listed"), "no-content");
  ASSERT_TRUE(client.send("GET /ranged HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(sluice.process().count("server " + no_content.address() + ": down"), 0u);
}

}  // namespace
}  // namespace sluice::test
