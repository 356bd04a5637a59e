// defer_accept (issue 20, the accept path): an http listener's sockets ask
// the kernel to hand over a connection only once its first bytes arrive
// (TCP_DEFER_ACCEPT), one wake-up per new connection instead of two. A
// client that connects and says nothing is then the kernel's to hold: it
// takes no place under max_connections. tcp listeners do not defer by
// default, since the protocol they carry may be one where the server
// speaks first. A reload changes it on the sockets already open.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// How long a client at the cap is watched for an answer that must not come.
constexpr int kNoAnswerMs = 500;

const std::string kGetAndClose = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

// One worker, at most one open client connection, and a header timeout
// far longer than the test: a silent client that sluice accepted would
// keep the only place for all of it.
std::string capped_config(const std::string& defer_accept) {
  return R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    max_connections: 1
    timeouts: {header: 60s}
    defer_accept: )" +
         defer_accept + R"(
routes:
  - name: hello
    respond: {status: 200, body: "ok"}
)";
}

// Debian 12's glibc declares pidfd_open and pidfd_getfd without C linkage
// (fixed in 2.37): the system calls themselves.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
int copy_fd(int pidfd, int fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

// TCP_DEFER_ACCEPT (the kernel's rounding of it, in seconds) of every
// socket process `pid` listens with on `port`: one per worker. Read from
// copies of its descriptors (pidfd_getfd(2): the test started it).
std::vector<int> defer_accept_of(pid_t pid, std::uint16_t port) {
  std::vector<int> values;
  const int pidfd = open_pidfd(pid);
  if (pidfd < 0) {
    ADD_FAILURE() << "pidfd_open: " << std::strerror(errno);
    return values;
  }
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (ec || target.string().rfind("socket:", 0) != 0) continue;
    const int fd = copy_fd(pidfd, std::stoi(entry.path().filename().string()));
    if (fd < 0) continue;  // closed since the listing
    int listening = 0;
    socklen_t len = sizeof listening;
    sockaddr_in addr{};
    socklen_t addr_len = sizeof addr;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening != 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) == 0 &&
        addr.sin_family == AF_INET && ntohs(addr.sin_port) == port) {
      int value = -1;
      socklen_t value_len = sizeof value;
      getsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, &value_len);
      values.push_back(value);
    }
    ::close(fd);
  }
  ::close(pidfd);
  return values;
}

std::string two_listeners(const std::string& web_extra, const std::string& db_extra) {
  return R"(workers: 2
listeners:
  - name: web
    listen: 127.0.0.1:0
)" + web_extra +
         R"(  - name: db
    listen: 127.0.0.1:0
    protocol: tcp
    backend: db
)" + db_extra +
         R"(routes:
  - name: hello
    respond: {status: 200, body: "ok"}
backends:
  db:
    servers: ["127.0.0.1:1"]
)";
}

TEST(DeferAccept, HttpListenersDeferByDefaultTcpOnesDoNotAndAReloadChangesBoth) {
  SluiceInstance sluice(two_listeners("", ""));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const pid_t pid = sluice.process().pid();
  const std::uint16_t web = sluice.port("web");
  const std::uint16_t db = sluice.port("db");

  const auto web_before = defer_accept_of(pid, web);
  ASSERT_EQ(web_before.size(), 2u) << "one socket per worker";
  for (int v : web_before)
    EXPECT_EQ(v, 1) << "http: a second for a silent client";
  const auto db_before = defer_accept_of(pid, db);
  ASSERT_EQ(db_before.size(), 2u);
  for (int v : db_before)
    EXPECT_EQ(v, 0) << "tcp: a server-first protocol's greeting must not wait";

  std::ofstream(sluice.config_path(), std::ios::trunc)
      << two_listeners("    defer_accept: false\n", "    defer_accept: 30s\n");
  ::kill(pid, SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", seconds(10)))
      << sluice.process().output();
  // The same sockets, still one per worker, with the option changed.
  const auto web_after = defer_accept_of(pid, web);
  ASSERT_EQ(web_after.size(), 2u);
  for (int v : web_after)
    EXPECT_EQ(v, 0);
  // The kernel keeps it as SYN-ACK retransmissions: 30 s is 5 of them, 31 s.
  const auto db_after = defer_accept_of(pid, db);
  ASSERT_EQ(db_after.size(), 2u);
  for (int v : db_after)
    EXPECT_GE(v, 30);
}

TEST(DeferAccept, ASilentClientTakesNoPlaceUnderMaxConnectionsWhileTheKernelHoldsIt) {
  // 30 s: the kernel holds the silent client far longer than the test runs.
  SluiceInstance sluice(capped_config("30s"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection silent(sluice.port("web"));
  ASSERT_TRUE(silent.connected());

  RawConnection next(sluice.port("web"));
  ASSERT_TRUE(next.send(kGetAndClose));
  auto r = next.read_response(false, 5'000);
  ASSERT_TRUE(r) << "the silent client holds the only place\n" << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(next.wait_closed(5'000));

  // Once it speaks it is served like any other.
  ASSERT_TRUE(silent.send(kGetAndClose));
  r = silent.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->body, "ok");
}

TEST(DeferAccept, TurnedOffASilentClientHoldsItsPlaceUntilItCloses) {
  SluiceInstance sluice(capped_config("false"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto silent = std::make_unique<RawConnection>(sluice.port("web"));
  ASSERT_TRUE(silent->connected());

  RawConnection next(sluice.port("web"));
  ASSERT_TRUE(next.send(kGetAndClose));
  EXPECT_TRUE(
      sluice.process().wait_for_line("listener 'web' reached max_connections (1)", seconds(5)))
      << sluice.process().output();
  EXPECT_FALSE(next.read_response(false, kNoAnswerMs)) << "the silent client was not accepted";

  silent.reset();  // its place frees: the next one is served
  auto r = next.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace sluice::test
