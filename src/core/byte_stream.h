// A byte stream over one non-blocking descriptor registered with one event
// loop: a plain TCP socket (Socket) today, TLS over a socket later. It
// exposes completion-style awaitables: `co_await stream.read(buf)` resumes
// with bytes read, or with timeout / cancelled / closed, and nothing left
// registered.
//
// Why the seam sits at read_some / write_some. Everything that is the same
// for every transport lives here, implemented once: the awaitables, the
// edge-triggered readiness bookkeeping per direction (a short read or an
// EAGAIN clears it, so the next read suspends without a wasted syscall),
// timeouts, cancellation and the idle handler. What differs is only how one
// non-blocking attempt moves bytes: recv/send(msg) for a socket,
// SSL_read/SSL_write for TLS. So a transport implements that attempt and
// says what happened: bytes moved, would block until readable, would block
// until writable (a TLS read may have to write, a handshake or key update,
// and a TLS write may have to read), closed, or failed. The base then
// waits on the right readiness and tries again. That costs one indirect
// call per syscall and no allocation; a seam higher up (whole awaitables
// per transport) would copy the bookkeeping into every transport, and one
// lower down (raw descriptor readiness) cannot express TLS's "a read needs
// a write".
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/event_loop.h"
#include "core/result.h"
#include "core/waiter.h"

namespace sluice {

class ByteStream : public IoHandler {
 public:
  virtual ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  int fd() const { return fd_; }
  EventLoop& loop() { return *loop_; }
  // Every later wait on this stream also ends when `token` is cancelled.
  void bind_cancel(CancelToken* token) { token_ = token; }
  // The peer has shut down its sending side (EPOLLRDHUP seen).
  bool peer_half_closed() const { return rdhup_; }
  // Some bytes may be readable without blocking.
  bool maybe_readable() const { return read_ready_; }
  // True when nothing is waiting to be read: no byte, no end of stream. Asks
  // the transport (a peek) only when readiness says bytes may be there: a
  // read that filled its buffer exactly drained nothing for sure, and
  // edge-triggered epoll will not report bytes that were already queued.
  bool nothing_to_read();
  // While no read or write is pending, readable events go to `handler`
  // (null: nobody). A pooled idle connection uses this to learn at once that
  // its server closed it or sent something; it then asks
  // idle_still_usable(). The handler may destroy this stream.
  void set_idle_handler(IoHandler* handler) { idle_handler_ = handler; }

  // True: bytes go unchanged through fd(), so the proxy may splice() on it.
  virtual bool is_plain_socket() const = 0;
  // True when the stream is encrypted and authenticated (TLS): the proxy
  // derives X-Forwarded-Proto from it.
  virtual bool is_secure() const = 0;
  // Idle liveness, judged by the transport. An idle stream's owner calls it
  // when the stream became readable (its idle handler ran) and before
  // reusing it. It consumes what the transport handles itself (TLS: a
  // session ticket) and says whether the stream may still carry a new
  // exchange. No: a byte the application would read (it would be taken as
  // the next response), the end of the stream (TLS: close_notify), or an
  // error. Never blocks.
  virtual bool idle_still_usable() = 0;
  // Going idle: gives back what the transport holds only while bytes move
  // (TLS record buffers). A plain socket holds nothing.
  virtual void shed_buffers() {}

  // Waits until the stream is readable (or closed) and reads nothing:
  // resumes with 0, or closed / timeout / cancelled. Kept apart from ReadOp,
  // and small, because every idle connection's frame holds one.
  struct ReadinessOp : Waiter {
    ReadinessOp(ByteStream* s, std::uint64_t t, bool peek = true)
        : peek_only(peek), stream(s), timeout_ms(t) {}
    // The flags first, in Waiter's tail padding.
    bool done = false;
    bool peek_only;            // false in a ReadOp
    bool closed = false;       // the stream was closed before the wait
    bool wants_write = false;  // a ReadOp whose transport waits for writability
    ByteStream* stream;
    std::uint64_t timeout_ms;
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    Result<std::size_t> await_resume();
  };
  struct ReadOp : ReadinessOp {
    ReadOp(ByteStream* s, std::span<char> b, std::uint64_t t) : ReadinessOp(s, t, false), buf(b) {}
    std::span<char> buf;
    Result<std::size_t> result{Errc::ok};
    bool await_ready();
    Result<std::size_t> await_resume();
  };
  struct WriteOp : Waiter {
    WriteOp(ByteStream* s, std::uint64_t t, std::span<const char> a, std::span<const char> b = {},
            int send_flags = 0)
        : stream(s), flags(send_flags), timeout_ms(t) {
      add(a);
      add(b);
    }
    WriteOp(ByteStream* s, std::uint64_t t, std::span<const char> a, std::span<const char> b,
            std::span<const char> c, std::span<const char> d, int send_flags = 0)
        : stream(s), flags(send_flags), timeout_ms(t) {
      add(a);
      add(b);
      add(c);
      add(d);
    }
    struct WaitOnly {};
    WriteOp(ByteStream* s, std::uint64_t t, WaitOnly) : stream(s), wait_only(true), timeout_ms(t) {}
    // What a write that could not finish at once (await_ready() false) has
    // left: copied into the coroutine that waits for the rest, which makes
    // a new WriteOp of it. A WriteOp cannot move (it is a Waiter), and the
    // function that made it need not be a coroutine when the write
    // completes at once (core/task.h: Task<T>::ready).
    struct Rest {
      ByteStream* stream;
      iovec iov[4];
      int iov_count;
      std::size_t total;
      std::size_t written;
      int flags;
      bool wants_read;
      std::uint64_t timeout_ms;
    };
    Rest rest() const;
    explicit WriteOp(const Rest& r);
    // Appends a piece (at most 4 in all); an empty one is skipped.
    void add(std::span<const char> piece);
    ByteStream* stream;
    iovec iov[4];
    int iov_count = 0;
    std::size_t total = 0;
    std::size_t written = 0;
    int flags = 0;
    Error error{};
    bool done = false;
    bool wait_only = false;   // wait for writability, write nothing
    bool wants_read = false;  // the transport waits for readability
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
  // Four pieces at most, empty ones skipped (a head, a chunk size, data, a
  // chunk's end): one system call. `more`: as write()'s.
  WriteOp write_pieces(std::span<const char> a, std::span<const char> b, std::span<const char> c,
                       std::span<const char> d, std::uint64_t timeout_ms, bool more = false);
  // Waits until the stream is readable (or closed), without consuming bytes.
  ReadinessOp wait_readable(std::uint64_t timeout_ms = 0);
  // Waits until the stream may take more bytes.
  WriteOp wait_writable(std::uint64_t timeout_ms = 0);

  // Ends any pending read and write with Errc::cancelled.
  void cancel();
  // Ends the sending side; the peer reads the end of the stream.
  void shutdown_write();
  // Closes now (a derived destructor also does). With `reset`, the peer sees
  // a reset rather than an orderly end.
  void close(bool reset = false);

  // IoHandler
  void on_io(std::uint32_t events) final;

 protected:
  // Takes ownership of the non-blocking `fd` and registers it with `loop`
  // (on failure the fd is closed and the stream starts closed).
  ByteStream(EventLoop& loop, int fd);

  // What one non-blocking transport attempt did. Small enough to come back
  // in two registers.
  struct Transfer {
    enum class Outcome : std::uint8_t {
      done,        // `bytes` (> 0) moved
      want_read,   // would block until fd() is readable
      want_write,  // would block until fd() is writable
      closed,      // the peer ended the stream in order
      failed,      // `sys_errno` says why
    };
    std::size_t bytes = 0;
    Outcome outcome = Outcome::done;
    // done reading: the transport holds nothing more until fd()'s next
    // readable edge (a socket: the read came back short).
    bool drained = false;
    int sys_errno = 0;

    static Transfer moved(std::size_t n, bool drained = false) {
      return {n, Outcome::done, drained, 0};
    }
    static Transfer would_block_read() { return {0, Outcome::want_read, false, 0}; }
    static Transfer would_block_write() { return {0, Outcome::want_write, false, 0}; }
    static Transfer ended() { return {0, Outcome::closed, false, 0}; }
    static Transfer error(int e) { return {0, Outcome::failed, false, e}; }
  };

  // Transport hooks, called by the base with fd() open; they never block.
  // Reads into `buf` (not empty).
  virtual Transfer read_some(std::span<char> buf) = 0;
  // Writes from the first `count` (1..4) iovecs; `flags` may hold MSG_MORE.
  virtual Transfer write_some(const iovec* iov, int count, int flags) = 0;
  // Looks at what a read would return, consuming no application byte:
  // done (something is there), closed, failed, or want_read (nothing).
  virtual Transfer peek_some() = 0;
  // Ends the sending side.
  virtual void shutdown_transport_write() = 0;
  // Closes fd(); the base forgets it afterwards.
  virtual void close_transport(bool reset) = 0;

  // Stops watching the descriptor and returns it; the stream is closed
  // afterwards without closing the descriptor.
  int detach_fd();
  // For I/O done on fd() outside the hooks (splice): an EAGAIN clears
  // readiness, so the next wait suspends until epoll reports more.
  void clear_read_ready() { read_ready_ = false; }
  void clear_write_ready() { write_ready_ = false; }

 private:
  bool try_read(ReadinessOp& op);
  bool try_write(WriteOp& op);

  EventLoop* loop_;
  CancelToken* token_ = nullptr;
  Waiter* reader_ = nullptr;  // a ReadinessOp or ReadOp
  Waiter* writer_ = nullptr;  // a WriteOp
  IoHandler* idle_handler_ = nullptr;
  int fd_;                  // beside the flags: no padding
  bool read_ready_ = true;  // optimistic: a fresh stream may hold bytes
  bool write_ready_ = true;
  bool rdhup_ = false;
};

}  // namespace sluice
