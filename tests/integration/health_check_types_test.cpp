// Health check kinds and timeouts (issue 14, "Health checks: type: tcp,
// check timeouts"): a tcp check only connects, so a server that speaks no
// HTTP is up while it accepts and down when it refuses; an http check that
// gets no answer fails after its timeout, the server goes down after
// `fall` of them, and the log says the check timed out.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A server of some binary protocol: it echoes what it receives and never
// sends anything of its own, so an HTTP request gets its own bytes back.
TestBackend::Script echo_bytes() {
  return [](BackendConnection& c) {
    char buf[4096];
    while (true) {
      const ssize_t n = ::recv(c.fd_for_tests(), buf, sizeof buf, 0);
      if (n <= 0 || !c.send(std::string(buf, static_cast<std::size_t>(n)))) return;
    }
  };
}

// Bytes `fd` receives within `timeout_ms`, up to `want` of them.
std::string receive(int fd, std::size_t want, int timeout_ms = 5000) {
  std::string got;
  const auto deadline = Clock::now() + milliseconds(timeout_ms);
  while (got.size() < want) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

HttpResponse admin_get(SluiceInstance& s, const std::string& path) {
  RawConnection c(s.port("admin"));
  c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port("admin")) +
         "\r\n\r\n");
  auto r = c.read_response();
  return r ? *r : HttpResponse{};
}

TEST(HealthCheckTypes, TcpCheckKeepsAServerThatAcceptsUpAndTakesARefusingOneDown) {
  TestBackend accepting(echo_bytes());
  RefusingPort refusing;
  SluiceInstance sluice(R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: tcp
    listen: 127.0.0.1:0
    protocol: tcp
    backend: db
backends:
  db:
    servers: [)" + refusing.address() +
                        ", " + accepting.address() + R"(]
    health_check: {type: tcp, interval: 50ms, timeout: 500ms, rise: 1, fall: 1}
)");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line(
      "server " + refusing.address() + ": down (1 failed check in a row, last: connect failed)",
      std::chrono::seconds(5)))
      << sluice.process().output();
  // Four checks connected and went away without a byte; none took it down.
  ASSERT_TRUE(accepting.wait_for_closed_connections(4));
  EXPECT_EQ(sluice.process().count("server " + accepting.address() + ": down"), 0u)
      << sluice.process().output();
  EXPECT_TRUE(accepting.requests().empty()) << "a tcp check sends nothing";
  const std::string listing = admin_get(sluice, "/backends").body;
  EXPECT_NE(listing.find("\"address\": \"" + accepting.address() + "\", \"weight\": 1, " +
                         "\"backup\": false, \"health\": \"up\""),
            std::string::npos)
      << listing;
  EXPECT_NE(listing.find("\"address\": \"" + refusing.address() + "\", \"weight\": 1, " +
                         "\"backup\": false, \"health\": \"down\""),
            std::string::npos)
      << listing;

  // Clients reach the server that is up, at the first try.
  for (int i = 0; i < 3; ++i) {
    RawConnection client(sluice.port("tcp"));
    ASSERT_TRUE(client.send("\x01hello\x02"));
    EXPECT_EQ(receive(client.fd(), 7), "\x01hello\x02") << i;
  }
  EXPECT_EQ(sluice.process().count("connect failed; trying the next server"), 0u)
      << sluice.process().output();
}

// When the server saw each check connection open and close.
struct CheckTimes {
  std::mutex mutex;
  std::vector<Clock::time_point> opened;
  std::vector<Clock::time_point> closed;
};

TEST(HealthCheckTypes, HttpCheckWithNoAnswerTimesOutAndTheServerIsDownAfterFallTimeouts) {
  constexpr milliseconds kTimeout{300};
  constexpr int kFall = 3;
  auto times = std::make_shared<CheckTimes>();
  // Reads the check and never answers, until sluice closes the connection.
  TestBackend silent([times](BackendConnection& c) {
    {
      std::lock_guard lock(times->mutex);
      times->opened.push_back(Clock::now());
    }
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    const bool closed = c.wait_closed(10'000);
    std::lock_guard lock(times->mutex);
    times->closed.push_back(closed ? Clock::now() : Clock::time_point::max());
  });
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: app
    backend: app
backends:
  app:
    servers: [)" + silent.address() +
                        R"(]
    health_check: {path: /health, interval: 50ms, timeout: 300ms, rise: 1, fall: 3}
)");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line(
      "server " + silent.address() +
          ": down (3 failed checks in a row, last: timed out: no answer within 300 ms)",
      std::chrono::seconds(10)))
      << sluice.process().output();
  const auto down_at = Clock::now();

  ASSERT_TRUE(silent.wait_for_closed_connections(kFall));
  std::vector<Clock::time_point> opened;
  std::vector<Clock::time_point> closed;
  {
    std::lock_guard lock(times->mutex);
    opened = times->opened;
    closed = times->closed;
  }
  ASSERT_GE(opened.size(), static_cast<std::size_t>(kFall));
  ASSERT_GE(closed.size(), static_cast<std::size_t>(kFall));
  // Each check gave up after its timeout: not before, and not much later.
  // The check's clock starts at its connect, the backend's only when its
  // thread takes the connection, which a loaded machine delays by a few
  // milliseconds (seen: 7): that much slack, no more.
  constexpr milliseconds kAcceptDelay{40};
  for (int i = 0; i < kFall; ++i) {
    const auto waited = closed[static_cast<std::size_t>(i)] - opened[static_cast<std::size_t>(i)];
    EXPECT_GE(waited, kTimeout - kTimerEarliness - kAcceptDelay) << "check " << i;
    EXPECT_LT(waited, kTimeout + milliseconds(1000)) << "check " << i;
  }
  // Down after `fall` timeouts (and the intervals between them), not at
  // the first one.
  const auto to_down = down_at - opened.front();
  EXPECT_GE(to_down, kFall * kTimeout - kTimerEarliness - kAcceptDelay);
  EXPECT_LT(to_down, kFall * kTimeout + milliseconds(2500));

  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

}  // namespace
}  // namespace sluice::test
