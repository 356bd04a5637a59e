// Issue 13 item 4: CONNECT poisoned the pool. It was forwarded like any
// method, and a 2xx left a tunnel-mode backend connection in the pool, so
// the next client's request went into someone else's tunnel. CONNECT now
// gets 405 unless its route says `allow_connect`, and a connection that
// carried CONNECT (or a 101) is never pooled.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Answers CONNECT with `connect_status`; after a 200 it is a tunnel that
// echoes each piece of bytes back prefixed with "tunnel:". Other requests
// get 200 "plain".
TestBackend::Script connect_server(int connect_status) {
  return [connect_status](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.method != "CONNECT") {
        c.send(make_response(200, "plain"));
        continue;
      }
      if (connect_status != 200) {
        c.send(make_response(connect_status, "no"));
        continue;
      }
      c.send("HTTP/1.1 200 Connection Established\r\n\r\n");
      std::string pending = c.take_buffered();
      while (true) {
        if (!pending.empty() && !c.send("tunnel:" + pending)) return;
        char buf[4096];
        if (!c.readable(10'000)) return;
        const ssize_t n = ::recv(c.fd_for_tests(), buf, sizeof buf, 0);
        if (n <= 0) return;
        pending.assign(buf, static_cast<std::size_t>(n));
      }
    }
  };
}

std::string config(const std::string& server, bool allow_connect) {
  return "workers: 1\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "routes:\n"
         "  - name: app\n"
         "    backend: app\n" +
         std::string(allow_connect ? "    allow_connect: true\n" : "") +
         "backends:\n"
         "  app:\n"
         "    servers: [" +
         server + "]\n";
}

constexpr const char* kConnect =
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";

// Reads until `n` bytes came, the peer closed, or 5 s passed.
std::string read_raw(int fd, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5'000) != 1) break;
    char buf[256];
    const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

std::string plain_get(std::uint16_t port) {
  RawConnection c(port);
  if (!c.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n")) return "<send failed>";
  auto r = c.read_response(false, 5'000);
  return r ? std::to_string(r->status) + " " + r->body : "<no response>";
}

TEST(Connect, RefusedWith405AndAllowUnlessTheRouteAllowsIt) {
  TestBackend backend(connect_server(200));
  SluiceInstance sluice(config(backend.address(), false));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send(kConnect));
  auto r = c.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow").value_or(""), "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH");
  EXPECT_TRUE(c.wait_closed(5'000));
  EXPECT_EQ(backend.requests().size(), 0u);
  // The next client is served by the backend as usual.
  EXPECT_EQ(plain_get(sluice.port("web")), "200 plain");
}

TEST(Connect, AllowedRouteTunnelsAndTheTunnelConnectionIsNeverPooled) {
  TestBackend backend(connect_server(200));
  SluiceInstance sluice(config(backend.address(), true));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send(kConnect));
  auto r = c.read_response(true, 5'000);  // a 2xx to CONNECT has no content
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->header("content-length").has_value());
  ASSERT_TRUE(c.send("hello"));
  // The tunnel's echo arrives as raw bytes after the response.
  ASSERT_EQ(c.leftover(), "");
  EXPECT_EQ(read_raw(c.fd(), 12), "tunnel:hello");
  // While the tunnel is open, another client gets a connection of its own.
  EXPECT_EQ(plain_get(sluice.port("web")), "200 plain");
  EXPECT_EQ(backend.accepted(), 2);
}

TEST(Connect, RefusedConnectLeavesNoConnectionInThePool) {
  TestBackend backend(connect_server(403));
  SluiceInstance sluice(config(backend.address(), true));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  {
    RawConnection c(sluice.port("web"));
    ASSERT_TRUE(c.send(kConnect));
    auto r = c.read_response(false, 5'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 403);
  }
  EXPECT_EQ(plain_get(sluice.port("web")), "200 plain");
  EXPECT_EQ(backend.accepted(), 2) << "the connection that carried CONNECT was not reused";
}

}  // namespace
}  // namespace sluice::test
