// The event loop's awaitables over real sockets: reads, writes, timeouts,
// cancellation, connect and accept.
#include "core/socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "core/listener.h"
#include "core/task.h"
#include "core/waiter.h"
#include "support/run_loop.h"

namespace sluice {
namespace {

// A connected TCP pair over loopback, both ends non-blocking: what the
// proxy writes to.
struct TcpPair {
  int a = -1, b = -1;
  TcpPair() {
    auto l = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
    EXPECT_TRUE(l);
    const SocketAddress addr = SocketAddress::local_of(*l);
    a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::connect(a, addr.sa(), addr.length()), 0) << std::strerror(errno);
    b = ::accept4(*l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    EXPECT_GE(b, 0);
    ::fcntl(a, F_SETFL, O_NONBLOCK);
    ::close(*l);
  }
};

struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a = fds[0];
    b = fds[1];
  }
};

Task<void> read_with_timeout(Socket& s, Result<std::size_t>& out, std::uint64_t timeout) {
  char buf[16];
  out = co_await s.read(buf, timeout);
}

TEST(Socket, ReadWithTimeoutResumesWithTimeoutAndStaysUsable) {
  EventLoop loop;
  SocketPair p;
  Socket reader(loop, p.a);
  Socket writer(loop, p.b);
  Result<std::size_t> r{Errc::ok};
  const auto before = loop.refresh_now();
  run_to_completion(loop, read_with_timeout(reader, r, 30));
  EXPECT_EQ(r.code(), Errc::timeout);
  EXPECT_GE(loop.refresh_now() - before, 30u);
  EXPECT_EQ(loop.timers().size(), 0u);  // nothing left armed

  // The socket still works after a timed-out read.
  ASSERT_EQ(::write(p.b, "hi", 2), 2);
  run_to_completion(loop, read_with_timeout(reader, r, 1000));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(loop.timers().size(), 0u);
}

Task<void> cancel_after(EventLoop& loop, CancelToken& token, std::uint64_t ms) {
  co_await sleep_for(loop, ms);
  token.cancel();
}

Task<void> read_until_cancelled(EventLoop& loop, Socket& s, CancelToken& token,
                                Result<std::size_t>& out) {
  spawn(cancel_after(loop, token, 5));
  char buf[16];
  out = co_await s.read(buf, 10'000);
  // Later waits on a cancelled token fail at once instead of hanging.
  auto again = co_await s.read(buf);
  EXPECT_EQ(again.code(), Errc::cancelled);
}

TEST(Socket, ReadIsWokenByCancellation) {
  EventLoop loop;
  SocketPair p;
  Socket reader(loop, p.a);
  CancelToken token;
  reader.bind_cancel(&token);
  Result<std::size_t> r{Errc::ok};
  run_to_completion(loop, read_until_cancelled(loop, reader, token, r));
  EXPECT_EQ(r.code(), Errc::cancelled);
  EXPECT_EQ(loop.timers().size(), 0u);
  ::close(p.b);
}

Task<void> pump(Socket& out, std::size_t bytes) {
  std::string chunk(64 * 1024, 'x');
  for (std::size_t sent = 0; sent < bytes; sent += chunk.size()) {
    chunk[0] = static_cast<char>('a' + (sent / chunk.size()) % 26);
    auto w = co_await out.write(chunk);
    EXPECT_TRUE(w);
  }
  out.shutdown_write();
}

Task<void> drain(Socket& in, std::size_t& received, std::string& firsts) {
  std::vector<char> buf(4096);
  while (true) {
    auto r = co_await in.read(buf);
    if (!r) {
      EXPECT_EQ(r.code(), Errc::closed);
      break;
    }
    for (std::size_t i = 0; i < *r; ++i) {
      if ((received + i) % (64 * 1024) == 0) firsts.push_back(buf[i]);
    }
    received += *r;
  }
}

Task<void> transfer(Socket& a, Socket& b, std::size_t bytes, std::size_t& received,
                    std::string& firsts) {
  spawn(pump(a, bytes));
  co_await drain(b, received, firsts);
}

TEST(Socket, LargeWriteWaitsForBackPressureAndArrivesInOrder) {
  EventLoop loop;
  SocketPair p;
  Socket a(loop, p.a), b(loop, p.b);
  const std::size_t total = 16u << 20;
  std::size_t received = 0;
  std::string firsts;
  run_to_completion(loop, transfer(a, b, total, received, firsts));
  EXPECT_EQ(received, total);
  ASSERT_EQ(firsts.size(), total / (64 * 1024));
  for (std::size_t i = 0; i < firsts.size(); ++i) {
    ASSERT_EQ(firsts[i], static_cast<char>('a' + i % 26)) << i;
  }
}

// Piece `index` of a write: bytes that differ by piece and by offset, so
// that a piece lost, doubled, reordered or shifted shows.
std::string piece_bytes(std::size_t index, std::size_t size) {
  std::string p(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    p[i] = static_cast<char>('A' + (index * 7 + i) % 53);
  return p;
}

Task<void> write_then_end(Socket& out, const std::vector<std::string>& pieces) {
  std::span<const char> spans[4];
  for (std::size_t i = 0; i < pieces.size(); ++i)
    spans[i] = pieces[i];
  auto w = co_await out.write_pieces(spans[0], spans[1], spans[2], spans[3], 5000);
  const std::size_t total =
      std::accumulate(pieces.begin(), pieces.end(), std::size_t{0},
                      [](std::size_t n, const std::string& p) { return n + p.size(); });
  EXPECT_TRUE(w);
  if (w) {
    EXPECT_EQ(*w, total);
  }
  out.shutdown_write();
}

Task<void> read_to_end(Socket& in, std::string& got) {
  std::vector<char> buf(8192);
  while (true) {
    auto r = co_await in.read(buf, 5000);
    if (!r) {
      EXPECT_EQ(r.code(), Errc::closed);
      co_return;
    }
    got.append(buf.data(), *r);
  }
}

Task<void> write_and_read(Socket& a, Socket& b, const std::vector<std::string>& pieces,
                          std::string& got) {
  spawn(write_then_end(a, pieces));
  co_await read_to_end(b, got);
}

// Small pieces go out gathered into one buffer (one send), larger ones as
// they are (sendmsg): either way the reader gets every piece whole, once,
// in order. Sizes around the 2 KiB the gathering takes, on both sides of it.
TEST(Socket, PiecesOfOneWriteArriveWholeAndInOrderWhateverTheirSizes) {
  const std::vector<std::vector<std::size_t>> cases = {
      {1},          {2048},        {1, 1},           {76, 612},           {1000, 1048},
      {1000, 1049}, {3, 5, 7, 11}, {2040, 4, 3, 1},  {2040, 4, 3, 2},     {16384, 100},
      {100, 16384}, {1, 2047},     {1, 65536, 1, 1}, {612, 612, 612, 212}};
  for (const auto& sizes : cases) {
    EventLoop loop;
    TcpPair p;
    Socket a(loop, p.a), b(loop, p.b);
    std::vector<std::string> pieces;
    std::string expected;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      pieces.push_back(piece_bytes(i, sizes[i]));
      expected += pieces.back();
    }
    std::string got;
    run_to_completion(loop, write_and_read(a, b, pieces, got));
    EXPECT_EQ(got.size(), expected.size()) << "pieces: " << sizes.size() << ", first " << sizes[0];
    EXPECT_TRUE(got == expected) << "pieces: " << sizes.size() << ", first " << sizes[0];
  }
}

// A write of small pieces into a socket whose send buffer is full waits for
// room, then the pieces follow what was queued before them, whole.
TEST(Socket, SmallPiecesIntoAFullSocketWaitThenArriveWhole) {
  EventLoop loop;
  TcpPair p;
  std::string expected;
  const std::string filler(4096, 'f');
  while (true) {
    const ssize_t n = ::send(p.a, filler.data(), filler.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
      break;
    }
    expected.append(filler.data(), static_cast<std::size_t>(n));
  }
  Socket a(loop, p.a), b(loop, p.b);
  std::vector<std::string> pieces;
  for (std::size_t i = 0; i < 4; ++i) {
    pieces.push_back(piece_bytes(i, 76 + i * 100));
    expected += pieces.back();
  }
  std::string got;
  run_to_completion(loop, write_and_read(a, b, pieces, got));
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

// 10,000 coroutines each wait on their own UDP socket; one datagram each
// wakes exactly the right one.
Task<void> await_datagram(Socket& s, int expected, int& woken, int& wrong) {
  int value = -1;
  auto r = co_await s.read(std::span<char>(reinterpret_cast<char*>(&value), sizeof value), 20'000);
  if (r && *r == sizeof value && value == expected) {
    ++woken;
  } else {
    ++wrong;
  }
}

Task<void> send_all(EventLoop& loop, int sender, std::vector<SocketAddress>& targets) {
  co_await sleep_for(loop, 1);  // let every receiver suspend first
  for (std::size_t i = 0; i < targets.size(); ++i) {
    int value = static_cast<int>(i);
    EXPECT_EQ(sendto(sender, &value, sizeof value, 0, targets[i].sa(), targets[i].length()),
              static_cast<ssize_t>(sizeof value));
  }
}

Task<void> wait_for_all(EventLoop& loop, int& woken, int& wrong, int total) {
  while (woken + wrong < total)
    co_await sleep_for(loop, 1);
}

TEST(Socket, TenThousandWaitingCoroutinesAreEachWokenCorrectly) {
  constexpr int kCount = 10'000;
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
  ASSERT_GE(lim.rlim_cur, static_cast<rlim_t>(kCount + 64)) << "raise the open-file limit";

  EventLoop loop;
  std::vector<std::unique_ptr<Socket>> sockets;
  std::vector<SocketAddress> addrs;
  auto loopback = SocketAddress::parse_numeric("127.0.0.1:0");
  for (int i = 0; i < kCount; ++i) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::bind(fd, loopback->sa(), loopback->length()), 0);
    addrs.push_back(SocketAddress::local_of(fd));
    sockets.push_back(std::make_unique<Socket>(loop, fd));
  }
  int woken = 0, wrong = 0;
  for (int i = 0; i < kCount; ++i)
    spawn(await_datagram(*sockets[i], i, woken, wrong));
  int sender = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  spawn(send_all(loop, sender, addrs));
  run_to_completion(loop, wait_for_all(loop, woken, wrong, kCount));
  ::close(sender);
  EXPECT_EQ(woken, kCount);
  EXPECT_EQ(wrong, 0);
}

Task<void> connect_once(EventLoop& loop, SocketAddress addr, Result<int>& out) {
  out = co_await connect_to(loop, addr, 1000);
}

TEST(Socket, ConnectToAClosedPortIsRefused) {
  EventLoop loop;
  // Take a port from the kernel, then close it so nothing listens there.
  auto listen_fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(listen_fd);
  SocketAddress addr = SocketAddress::local_of(*listen_fd);
  ::close(*listen_fd);
  Result<int> r{Errc::ok};
  run_to_completion(loop, connect_once(loop, addr, r));
  EXPECT_EQ(r.code(), Errc::refused);
}

Task<void> accept_and_greet(Listener& l) {
  auto a = co_await l.accept();
  EXPECT_TRUE(a);
  if (!a) co_return;
  Socket s(*EventLoop::current(), a->fd);
  auto w = co_await s.write(std::string_view("hello"));
  EXPECT_TRUE(w);
}

Task<void> connect_and_read(EventLoop& loop, SocketAddress addr, std::string& got) {
  auto fd = co_await connect_to(loop, addr, 1000);
  EXPECT_TRUE(fd);
  if (!fd) co_return;
  Socket s(loop, *fd);
  char buf[16];
  while (got.size() < 5) {
    auto r = co_await s.read(buf, 1000);
    if (!r) break;
    got.append(buf, *r);
  }
}

Task<void> accept_and_connect(EventLoop& loop, Listener& l, std::string& got) {
  spawn(accept_and_greet(l));
  co_await connect_and_read(loop, l.local_address(), got);
}

TEST(Socket, ConnectAndAcceptExchangeBytes) {
  EventLoop loop;
  auto fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(fd);
  Listener l(loop, *fd);
  std::string got;
  run_to_completion(loop, accept_and_connect(loop, l, got));
  EXPECT_EQ(got, "hello");
}

// The kernel completes the handshake before accept(2) takes it: connect,
// then accept, on the one loop.
Task<void> connect_then_accept(EventLoop& loop, Listener& l, Accepted& accepted, int& client) {
  auto fd = co_await connect_to(loop, l.local_address(), 1000);
  EXPECT_TRUE(fd);
  client = fd ? *fd : -1;
  auto a = co_await l.accept();
  EXPECT_TRUE(a);
  if (a) accepted = *a;
}

// Small responses go out at once (no Nagle delay behind an unacknowledged
// segment): every accepted connection has TCP_NODELAY, inherited from the
// listening socket, where it is set once, and the peer accept(2) named.
TEST(Listener, AnAcceptedConnectionHasNagleOffAndItsPeerAddress) {
  EventLoop loop;
  auto fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(fd);
  Listener l(loop, *fd);
  Accepted accepted;
  int client = -1;
  run_to_completion(loop, connect_then_accept(loop, l, accepted, client));
  ASSERT_GE(accepted.fd, 0);
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(getsockopt(accepted.fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_EQ(nodelay, 1);
  EXPECT_EQ(accepted.peer, SocketAddress::local_of(client));
  EXPECT_EQ(CompactAddress(accepted.peer).expand(), accepted.peer);
  ::close(accepted.fd);
  ::close(client);
}

Task<void> accept_until_closed(Listener& l, Errc& code) {
  auto a = co_await l.accept();
  code = a.code();
}

TEST(Listener, CloseWakesAPendingAcceptWithCancelled) {
  EventLoop loop;
  auto fd = open_listening_socket(*SocketAddress::parse_numeric("127.0.0.1:0"));
  ASSERT_TRUE(fd);
  Listener l(loop, *fd);
  Errc code = Errc::ok;
  spawn(accept_until_closed(l, code));
  loop.post([&] {
    l.close();
    loop.stop();
  });
  loop.run();
  EXPECT_EQ(code, Errc::cancelled);
}

TEST(EventLoop, PostFromAnotherThreadRunsOnTheLoop) {
  EventLoop loop;
  std::thread::id ran_on;
  std::thread other([&] {
    loop.post([&] {
      ran_on = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  other.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

Task<void> sleeper(EventLoop& loop, std::uint64_t ms, int id, std::vector<int>& order) {
  co_await sleep_for(loop, ms);
  order.push_back(id);
}

Task<void> sleepers(EventLoop& loop, std::vector<int>& order) {
  spawn(sleeper(loop, 30, 3, order));
  spawn(sleeper(loop, 10, 1, order));
  spawn(sleeper(loop, 20, 2, order));
  co_await sleep_for(loop, 40);
}

TEST(EventLoop, SleepsEndInOrderOfTheirDeadlines) {
  EventLoop loop;
  std::vector<int> order;
  run_to_completion(loop, sleepers(loop, order));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace sluice
