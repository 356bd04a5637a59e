// A Socket seen only through ByteStream&, over a real loopback TCP pair:
// what the proxy relies on from any byte stream (reads, writes of pieces
// through back-pressure, timeouts, cancellation, a half close) and the idle
// liveness verdict the connection pool asks for.
#include "core/byte_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "core/socket.h"
#include "core/task.h"
#include "core/waiter.h"
#include "support/run_loop.h"

namespace sluice {
namespace {

// Two connected non-blocking TCP descriptors over 127.0.0.1, port from the
// kernel. Loopback connect completes at once, so no loop is needed.
struct LoopbackPair {
  int a = -1, b = -1;
  LoopbackPair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(listener, 1), 0);
    EXPECT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::connect(a, reinterpret_cast<sockaddr*>(&addr), len), 0);
    b = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    EXPECT_GE(b, 0);
    ::close(listener);
    ::fcntl(a, F_SETFL, ::fcntl(a, F_GETFL) | O_NONBLOCK);
  }
};

// Two Sockets over a loopback pair, handed out as ByteStreams.
struct StreamPair {
  EventLoop loop;
  LoopbackPair fds;
  Socket a_sock{loop, fds.a};
  Socket b_sock{loop, fds.b};
  ByteStream& a = a_sock;
  ByteStream& b = b_sock;
};

TEST(ByteStream, PlainSocketAllowsSpliceAndIsNotSecure) {
  StreamPair p;
  EXPECT_TRUE(p.a.is_plain_socket());
  EXPECT_FALSE(p.a.is_secure());
}

// ---- reads and writes ----

Task<void> read_exactly(ByteStream& s, std::size_t bytes, std::string& got, Errc& last) {
  char buf[16 * 1024];
  while (got.size() < bytes) {
    auto r = co_await s.read(buf, 10'000);
    if (!r) {
      last = r.code();
      co_return;
    }
    got.append(buf, *r);
  }
}

Task<void> write_four_pieces(ByteStream& s, const std::string& p1, const std::string& p2,
                             const std::string& p3, const std::string& p4,
                             Result<std::size_t>& out) {
  auto op = s.write(p1, p2, 10'000, /*more=*/false);
  op.add(p3);
  op.add(p4);
  out = co_await op;
}

Task<void> pieces_through_back_pressure(StreamPair& p, const std::string (&pieces)[4],
                                        std::size_t total, std::string& got, Errc& last,
                                        Result<std::size_t>& written) {
  spawn(write_four_pieces(p.a, pieces[0], pieces[1], pieces[2], pieces[3], written));
  co_await read_exactly(p.b, total, got, last);
}

TEST(ByteStream, FourPiecesLargerThanTheSocketBuffersArriveWholeAndInOrder) {
  StreamPair p;
  // Small buffers: each sendmsg takes only part of the pieces, so the write
  // resumes several times from inside a piece.
  const int small = 16 * 1024;
  ::setsockopt(p.fds.a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(p.fds.b, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string pieces[4];
  std::string expected;
  for (int i = 0; i < 4; ++i) {
    for (std::size_t j = 0; j < 300'000 + 7 * static_cast<std::size_t>(i); ++j)
      pieces[i].push_back(static_cast<char>('a' + (i * 7 + j) % 26));
    expected += pieces[i];
  }
  std::string got;
  Errc last = Errc::ok;
  Result<std::size_t> written{Errc::invalid};
  run_to_completion(p.loop,
                    pieces_through_back_pressure(p, pieces, expected.size(), got, last, written));
  EXPECT_EQ(last, Errc::ok);
  ASSERT_TRUE(written);
  EXPECT_EQ(*written, expected.size());
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the bytes arrived out of order or damaged";
}

// ---- timeouts and cancellation ----

Task<void> read_once(ByteStream& s, std::uint64_t timeout_ms, Result<std::size_t>& out) {
  char buf[16];
  out = co_await s.read(buf, timeout_ms);
}

TEST(ByteStream, ReadTimesOutWhenNothingComesAndTheStreamStaysUsable) {
  StreamPair p;
  Result<std::size_t> r{Errc::ok};
  const auto before = p.loop.refresh_now();
  run_to_completion(p.loop, read_once(p.b, 30, r));
  EXPECT_EQ(r.code(), Errc::timeout);
  EXPECT_GE(p.loop.refresh_now() - before, 30u);
  EXPECT_EQ(p.loop.timers().size(), 0u);  // nothing left armed

  ASSERT_EQ(::send(p.fds.a, "hi", 2, 0), 2);
  run_to_completion(p.loop, read_once(p.b, 10'000, r));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2u);
}

Task<void> fill_then_wait_writable(ByteStream& s, Result<std::size_t>& out) {
  // Fill the send path until a write would block (nobody reads the peer).
  static const std::string chunk(64 * 1024, 'x');
  while (true) {
    auto w = s.write(chunk, 30);
    auto r = co_await w;
    if (!r) break;  // timed out part way: the buffers are full
  }
  out = co_await s.wait_writable(30);
}

TEST(ByteStream, WaitWritableTimesOutWhileThePeerReadsNothing) {
  StreamPair p;
  // Fixed buffers: no autotuning opens room while the wait runs.
  const int small = 16 * 1024;
  ::setsockopt(p.fds.a, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(p.fds.b, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Result<std::size_t> r{Errc::ok};
  run_to_completion(p.loop, fill_then_wait_writable(p.a, r));
  EXPECT_EQ(r.code(), Errc::timeout);
  EXPECT_EQ(p.loop.timers().size(), 0u);
}

Task<void> read_then_again(ByteStream& s, Result<std::size_t>& first, Result<std::size_t>& again) {
  char buf[16];
  first = co_await s.read(buf, 10'000);
  again = co_await s.read(buf, 10'000);  // the token stays cancelled
}

TEST(ByteStream, CancelEndsAPendingReadAndEveryLaterWait) {
  StreamPair p;
  CancelToken token;
  p.b.bind_cancel(&token);
  Result<std::size_t> first{Errc::ok}, again{Errc::ok};
  spawn(then_stop(p.loop, read_then_again(p.b, first, again)));  // runs until the read suspends
  token.cancel();
  p.loop.run();
  EXPECT_EQ(first.code(), Errc::cancelled);
  EXPECT_EQ(again.code(), Errc::cancelled);
  EXPECT_EQ(p.loop.timers().size(), 0u);
}

// ---- half close ----

Task<void> half_close_exchange(StreamPair& p, Result<std::size_t>& at_peer, std::string& late) {
  p.a.shutdown_write();
  co_await read_once(p.b, 10'000, at_peer);
  // The other direction still works.
  auto w = co_await p.b.write(std::string_view("late"), 10'000);
  EXPECT_TRUE(w);
  char buf[16];
  auto r = co_await p.a.read(buf, 10'000);
  if (r) late.assign(buf, *r);
}

TEST(ByteStream, ShutdownWriteIsSeenByThePeerAsEndOfStreamWhileItStillReads) {
  StreamPair p;
  Result<std::size_t> at_peer{Errc::ok};
  std::string late;
  run_to_completion(p.loop, half_close_exchange(p, at_peer, late));
  EXPECT_EQ(at_peer.code(), Errc::closed);
  EXPECT_EQ(late, "late");
}

// ---- idle liveness ----

// Stands for the connection pool: when the idle stream becomes readable,
// it asks the stream for its verdict, then lets the test end.
struct IdleOwner final : IoHandler {
  ByteStream* stream = nullptr;
  CancelToken woken;
  bool called = false;
  bool usable = true;
  void on_io(std::uint32_t) override {
    called = true;
    usable = stream->idle_still_usable();
    woken.cancel();
  }
};

Task<void> wait_for_idle_event(EventLoop& loop, IdleOwner& owner) {
  co_await sleep_for(loop, 5'000, &owner.woken);  // bound; ends early on the event
}

// One request and response, as a pooled connection has had before it idles.
Task<void> one_exchange(StreamPair& p) {
  char buf[16];
  EXPECT_TRUE(co_await p.a.write(std::string_view("ping"), 10'000));
  EXPECT_TRUE(co_await p.b.read(buf, 10'000));
  EXPECT_TRUE(co_await p.b.write(std::string_view("pong"), 10'000));
  EXPECT_TRUE(co_await p.a.read(buf, 10'000));
}

Task<void> read_into(ByteStream& s, std::span<char> buf, Result<std::size_t>& out) {
  out = co_await s.read(buf, 10'000);
}

TEST(ByteStream, IdleStreamIsUsableWhileNothingCame) {
  StreamPair p;
  run_to_completion(p.loop, one_exchange(p));
  EXPECT_TRUE(p.a.idle_still_usable());
  EXPECT_TRUE(p.a.idle_still_usable());  // asking consumed nothing
}

TEST(ByteStream, IdleStreamIsUsableAfterAReadThatFilledItsBufferExactly) {
  // The read cannot tell whether more is queued, so the verdict looks.
  StreamPair p;
  ASSERT_EQ(::send(p.fds.b, "abcd", 4, 0), 4);
  Result<std::size_t> r{Errc::ok};
  char buf[4];
  run_to_completion(p.loop, read_into(p.a, buf, r));
  ASSERT_TRUE(r);
  ASSERT_EQ(*r, 4u);
  EXPECT_TRUE(p.a.idle_still_usable());
}

TEST(ByteStream, IdleStreamIsNotUsableWhenBytesWereQueuedBehindAFullRead) {
  StreamPair p;
  ASSERT_EQ(::send(p.fds.b, "abcdefgh", 8, 0), 8);
  Result<std::size_t> r{Errc::ok};
  char buf[4];
  run_to_completion(p.loop, read_into(p.a, buf, r));
  ASSERT_TRUE(r);
  ASSERT_EQ(*r, 4u);
  EXPECT_FALSE(p.a.idle_still_usable());
}

TEST(ByteStream, IdleStreamIsNotUsableAfterAStrayByte) {
  StreamPair p;
  run_to_completion(p.loop, one_exchange(p));
  IdleOwner owner;
  owner.stream = &p.a;
  p.a.set_idle_handler(&owner);
  ASSERT_EQ(::send(p.fds.b, "x", 1, 0), 1);  // bytes no request asked for
  run_to_completion(p.loop, wait_for_idle_event(p.loop, owner));
  ASSERT_TRUE(owner.called) << "the idle stream never reported the byte";
  EXPECT_FALSE(owner.usable);
}

TEST(ByteStream, IdleStreamIsNotUsableAfterThePeerClosed) {
  StreamPair p;
  run_to_completion(p.loop, one_exchange(p));
  IdleOwner owner;
  owner.stream = &p.a;
  p.a.set_idle_handler(&owner);
  p.b.close();
  run_to_completion(p.loop, wait_for_idle_event(p.loop, owner));
  ASSERT_TRUE(owner.called) << "the idle stream never reported the close";
  EXPECT_FALSE(owner.usable);
}

}  // namespace
}  // namespace sluice
