// A non-blocking stream socket registered with one event loop, exposing
// completion-style awaitables: `co_await sock.read(buf)` resumes with bytes
// read, or with timeout / cancelled / closed, and nothing left registered.
//
// Readiness is tracked per direction (edge-triggered epoll): a short read or
// an EAGAIN clears it, so the next read suspends without a wasted syscall.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.h"
#include "core/event_loop.h"
#include "core/result.h"
#include "core/waiter.h"

namespace sluice {

class Socket final : public IoHandler {
 public:
  // Takes ownership of the non-blocking `fd` and registers it with `loop`.
  Socket(EventLoop& loop, int fd);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  EventLoop& loop() { return *loop_; }
  // Every later wait on this socket also ends when `token` is cancelled.
  void bind_cancel(CancelToken* token) { token_ = token; }
  // The peer has shut down its sending side (EPOLLRDHUP seen).
  bool peer_half_closed() const { return rdhup_; }
  // Some bytes may be readable without blocking.
  bool maybe_readable() const { return read_ready_; }
  // True when nothing is waiting to be read: no byte, no end of stream. Asks
  // the kernel (a peek) only when readiness says bytes may be there: a read
  // that filled its buffer exactly drained nothing for sure, and
  // edge-triggered epoll will not report bytes that were already queued.
  bool nothing_to_read();
  // While no read or write is pending, readiness events go to `handler`
  // (null: nobody). A pooled idle connection uses this to learn at once that
  // its server closed it or sent stray bytes. The handler may destroy this
  // socket.
  void set_idle_handler(IoHandler* handler) { idle_handler_ = handler; }
  // Stops watching the descriptor and hands it over (to another loop);
  // the socket is closed afterwards, without closing the descriptor.
  int release();

  // Waits until the socket is readable (or closed) and reads nothing:
  // resumes with 0, or closed / timeout / cancelled. Kept apart from ReadOp,
  // and small, because every idle connection's frame holds one.
  struct ReadinessOp : Waiter {
    ReadinessOp(Socket* s, std::uint64_t t, bool peek = true)
        : peek_only(peek), sock(s), timeout_ms(t) {}
    // The flags first, in Waiter's tail padding.
    bool done = false;
    bool peek_only;       // false in a ReadOp
    bool closed = false;  // the socket was closed before the wait
    Socket* sock;
    std::uint64_t timeout_ms;
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    Result<std::size_t> await_resume();
  };
  struct ReadOp : ReadinessOp {
    ReadOp(Socket* s, std::span<char> b, std::uint64_t t) : ReadinessOp(s, t, false), buf(b) {}
    std::span<char> buf;
    Result<std::size_t> result{Errc::ok};
    bool await_ready();
    Result<std::size_t> await_resume();
  };
  struct WriteOp : Waiter {
    WriteOp(Socket* s, std::uint64_t t, std::span<const char> a, std::span<const char> b = {},
            int send_flags = 0)
        : sock(s), flags(send_flags), timeout_ms(t) {
      add(a);
      add(b);
    }
    struct WaitOnly {};
    WriteOp(Socket* s, std::uint64_t t, WaitOnly) : sock(s), wait_only(true), timeout_ms(t) {}
    void add(std::span<const char> piece);
    Socket* sock;
    iovec iov[4];
    int iov_count = 0;
    std::size_t total = 0;
    std::size_t written = 0;
    int flags = 0;
    Error error{};
    bool done = false;
    bool wait_only = false;  // wait for writability, write nothing
    std::uint64_t timeout_ms;
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    Result<std::size_t> await_resume();
  };

  // Reads at most buf.size() bytes (at least 1). Errc::closed on EOF.
  ReadOp read(std::span<char> buf, std::uint64_t timeout_ms = 0);
  // Writes all of buf (then up to 3 more pieces), or fails. `more` sets
  // MSG_MORE: more data follows soon, so the kernel may hold a partial frame.
  WriteOp write(std::span<const char> buf, std::uint64_t timeout_ms = 0);
  WriteOp write(std::span<const char> a, std::span<const char> b, std::uint64_t timeout_ms = 0,
                bool more = false);
  // Waits until the socket is readable (or closed), without consuming bytes.
  ReadinessOp wait_readable(std::uint64_t timeout_ms = 0);
  // Waits until the socket may take more bytes.
  WriteOp wait_writable(std::uint64_t timeout_ms = 0);
  // For I/O done on fd() directly (splice): an EAGAIN clears readiness, so
  // the next wait suspends until epoll reports more.
  void note_read_drained() { read_ready_ = false; }
  void note_write_full() { write_ready_ = false; }

  // Ends any pending read and write with Errc::cancelled.
  void cancel();
  void shutdown_write();
  // Closes now (the destructor also does). With `reset`, sends RST (SO_LINGER 0).
  void close(bool reset = false);

  // IoHandler
  void on_io(std::uint32_t events) override;

 private:
  bool try_read(ReadinessOp& op);
  bool try_write(WriteOp& op);

  EventLoop* loop_;
  CancelToken* token_ = nullptr;
  Waiter* reader_ = nullptr;  // a ReadOp
  Waiter* writer_ = nullptr;  // a WriteOp
  IoHandler* idle_handler_ = nullptr;
  int fd_;                  // beside the flags: no padding
  bool read_ready_ = true;  // optimistic: a fresh socket may hold bytes
  bool write_ready_ = true;
  bool rdhup_ = false;
};

// Opens a non-blocking TCP connection. Resumes with the connected socket's fd
// (register it with `Socket`) or refused / timeout / cancelled.
struct ConnectOp final : Waiter, IoHandler {
  ConnectOp(EventLoop& l, const SocketAddress& a, std::uint64_t timeout, CancelToken* t)
      : addr(a), timeout_ms(timeout), cancel_token(t) {
    loop = &l;
  }
  ~ConnectOp();
  ConnectOp(const ConnectOp&) = delete;
  ConnectOp& operator=(const ConnectOp&) = delete;
  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);
  Result<int> await_resume();
  void on_io(std::uint32_t events) override;

  SocketAddress addr;
  std::uint64_t timeout_ms;
  CancelToken* cancel_token;
  int fd = -1;
  Waiter* self_slot = nullptr;
  Error error{};
  bool done = false;
};

inline ConnectOp connect_to(EventLoop& loop, const SocketAddress& addr,
                            std::uint64_t timeout_ms = 0, CancelToken* token = nullptr) {
  return ConnectOp(loop, addr, timeout_ms, token);
}

// Sets TCP_NODELAY (we batch writes ourselves).
void set_nodelay(int fd);

}  // namespace sluice
