// A non-blocking TCP (or Unix) stream socket registered with one event
// loop: the plain ByteStream. Its transport hooks are recv / send (sendmsg
// for a large write in pieces) / shutdown / close; everything else
// (awaitables, readiness, timeouts, cancellation) is ByteStream's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/address.h"
#include "core/byte_stream.h"
#include "core/event_loop.h"
#include "core/result.h"
#include "core/waiter.h"

namespace sluice {

class Socket final : public ByteStream {
 public:
  // Takes ownership of the non-blocking `fd` and registers it with `loop`.
  Socket(EventLoop& loop, int fd) : ByteStream(loop, fd) {}
  ~Socket() override;

  // Stops watching the descriptor and hands it over (to another loop);
  // the socket is closed afterwards, without closing the descriptor.
  int release() { return detach_fd(); }
  // For I/O done on fd() directly (splice): an EAGAIN clears readiness, so
  // the next wait suspends until epoll reports more.
  void note_read_drained() { clear_read_ready(); }
  void note_write_full() { clear_write_ready(); }
  // A socket just accepted: its registration with epoll reports the bytes
  // already there, so it starts "not known readable" and the first wait
  // needs no peek (a system call) to avoid waiting with a buffer held.
  void note_fresh_accept() { clear_read_ready(); }

  // ByteStream
  bool is_plain_socket() const override { return true; }
  bool is_secure() const override { return false; }
  // Nothing travels on a plain socket that it would handle itself: any
  // byte, the end of the stream or an error makes an idle one unusable.
  bool idle_still_usable() override { return nothing_to_read(); }

 private:
  // ByteStream transport hooks
  Transfer read_some(std::span<char> buf) override;
  Transfer write_some(const iovec* iov, int count, int flags) override;
  Transfer peek_some() override;
  void shutdown_transport_write() override;
  void close_transport(bool reset) override;
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
