// Workers over real loopback sockets: SO_REUSEPORT spreading and graceful stop.
#include "core/worker.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "core/socket.h"
#include "support/timing.h"

namespace sluice {
namespace {

// A blocking loopback client for the test thread.
class Client {
 public:
  explicit Client(const SocketAddress& addr) {
    fd_ = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    // Reads give up after 10 s: a worker that never answers fails the
    // test with a message instead of hanging it until CTest's timeout.
    const timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    connected_ = ::connect(fd_, addr.sa(), addr.length()) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(std::string_view s) { ASSERT_EQ(::write(fd_, s.data(), s.size()), (ssize_t)s.size()); }
  // Reads until `n` bytes, EOF or 10 s of silence; returns what arrived.
  std::string read_exactly(std::size_t n) {
    std::string out;
    char buf[256];
    while (out.size() < n) {
      ssize_t r = ::read(fd_, buf, std::min(sizeof buf, n - out.size()));
      if (r <= 0) break;
      out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
  }
  // True when the peer closes within 10 s.
  bool at_eof() {
    char c;
    return ::read(fd_, &c, 1) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

SocketAddress open_pair_of_listeners(int& fd1, int& fd2) {
  auto first = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  EXPECT_TRUE(first);
  fd1 = *first;
  SocketAddress addr = SocketAddress::local_of(fd1);
  auto second = open_listening_socket(addr);  // same port, thanks to SO_REUSEPORT
  EXPECT_TRUE(second);
  fd2 = *second;
  return addr;
}

// Greets with the worker's index, then closes.
Task<void> greet_with_index(ConnectionScope& scope, int fd) {
  Socket s(scope.worker().loop(), fd);
  const char index = static_cast<char>('0' + scope.worker().index());
  co_await s.write(std::span<const char>(&index, 1));
}

TEST(Worker, TwoWorkersAcceptOnTheSamePort) {
  int fd1, fd2;
  SocketAddress addr = open_pair_of_listeners(fd1, fd2);
  Worker w0(0, greet_with_index), w1(1, greet_with_index);
  w0.add_listener(0, fd1);
  w1.add_listener(0, fd2);
  w0.start();
  w1.start();
  std::array<int, 2> seen{};
  // The kernel hashes connections across the two sockets; within a bounded
  // number of connections both workers must have served some.
  for (int i = 0; i < 500 && (seen[0] == 0 || seen[1] == 0); ++i) {
    Client c(addr);
    ASSERT_TRUE(c.connected());
    std::string got = c.read_exactly(1);
    ASSERT_EQ(got.size(), 1u);
    ++seen.at(static_cast<std::size_t>(got[0] - '0'));
  }
  EXPECT_GT(seen[0], 0);
  EXPECT_GT(seen[1], 0);
  w0.request_stop(1000);
  w1.request_stop(1000);
  w0.join();
  w1.join();
}

// Says "ready", then waits for two bytes ("work in flight"), answers "done".
Task<void> two_byte_exchange(ConnectionScope& scope, int fd) {
  Socket s(scope.worker().loop(), fd);
  s.bind_cancel(&scope.cancel_token());
  if (!co_await s.write(std::string_view("ready"))) co_return;
  char buf[2];
  std::size_t got = 0;
  while (got < 2) {
    auto r = co_await s.read(std::span<char>(buf + got, 2 - got));
    if (!r) co_return;
    got += *r;
  }
  co_await s.write(std::string_view("done"));
}

TEST(Worker, StopLetsInFlightWorkFinish) {
  auto fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(fd);
  SocketAddress addr = SocketAddress::local_of(*fd);
  Worker w(0, two_byte_exchange);
  w.add_listener(0, *fd);
  w.start();
  Client c(addr);
  ASSERT_EQ(c.read_exactly(5), "ready");
  c.send("a");
  w.request_stop(30'000);  // generous grace: the exchange must finish, not be cut
  c.send("b");
  EXPECT_EQ(c.read_exactly(4), "done");
  EXPECT_TRUE(c.at_eof());
  w.join();  // returns once the last connection ended, long before the grace
  // Stopped: nobody accepts on the port any more.
  Client late(addr);
  EXPECT_FALSE(late.connected());
}

TEST(Worker, GracePeriodEndsAStuckConnection) {
  auto fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(fd);
  SocketAddress addr = SocketAddress::local_of(*fd);
  Worker w(0, two_byte_exchange);
  w.add_listener(0, *fd);
  w.start();
  Client c(addr);
  ASSERT_EQ(c.read_exactly(5), "ready");
  const auto stopped = std::chrono::steady_clock::now();
  w.request_stop(50);  // the client never sends: cancelled after 50 ms
  EXPECT_TRUE(c.at_eof());
  const auto lasted = std::chrono::steady_clock::now() - stopped;
  EXPECT_GE(lasted, std::chrono::milliseconds(50) - test::kTimerEarliness)
      << "cut before the grace period ended";
  EXPECT_LT(lasted, std::chrono::milliseconds(50 + 1950)) << "kept far past the grace period";
  w.join();
}

// Marks itself idle while waiting for a request, like a keep-alive session.
Task<void> idle_keep_alive(ConnectionScope& scope, int fd) {
  Socket s(scope.worker().loop(), fd);
  s.bind_cancel(&scope.cancel_token());
  if (!co_await s.write(std::string_view("ready"))) co_return;
  scope.set_idle(true);
  char buf[16];
  (void)co_await s.read(buf);
}

TEST(Worker, StopClosesIdleKeepAliveConnectionsAtOnce) {
  auto fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(fd);
  SocketAddress addr = SocketAddress::local_of(*fd);
  Worker w(0, idle_keep_alive);
  w.add_listener(0, *fd);
  w.start();
  Client c(addr);
  ASSERT_EQ(c.read_exactly(5), "ready");
  // A grace period of an hour: only closing idle connections at once lets
  // this test finish (CTest's timeout fails it otherwise).
  w.request_stop(3'600'000);
  EXPECT_TRUE(c.at_eof());
  w.join();
}

}  // namespace
}  // namespace sluice
