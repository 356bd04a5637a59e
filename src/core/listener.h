// Listening sockets. Every worker has its own socket per configured listener
// (SO_REUSEPORT), so the kernel spreads new connections across workers and
// no accept lock is shared.
#pragma once

#include <cstdint>
#include <memory>

#include "core/address.h"
#include "core/event_loop.h"
#include "core/listener_cap.h"
#include "core/result.h"
#include "core/waiter.h"

namespace sluice {

// Creates a non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT.
Result<int> open_listening_socket(const SocketAddress& addr, int backlog = 4096);

// TCP_DEFER_ACCEPT: the kernel completes a connection for accept(2) only
// once its first bytes arrive (or, for a client that sends nothing, after
// about `seconds`: the kernel rounds to its SYN-ACK retransmissions, 1, 3,
// 7, 15, 31 s...). One wake-up per new connection instead of two; only for
// protocols where the client speaks first. 0 turns it off. False when the
// socket refuses it (not TCP).
bool set_defer_accept(int fd, unsigned seconds);

struct Accepted {
  int fd = -1;  // non-blocking, close-on-exec, TCP_NODELAY (from the listener)
  SocketAddress peer;
};

class Listener final : public IoHandler {
 public:
  // Takes ownership of listening `fd` and registers it with `loop`. With a
  // `cap`, every accepted connection holds a place in it, which the
  // connection's owner gives back when it closes; at the cap accept()
  // waits without calling accept(2) until a place frees.
  Listener(EventLoop& loop, int fd, std::shared_ptr<ListenerCap> cap = nullptr);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  struct AcceptOp : Waiter {
    explicit AcceptOp(Listener* l) : listener(l) {}
    Listener* listener;
    Result<Accepted> result{Errc::ok};
    bool done = false;
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> h);
    Result<Accepted> await_resume();
  };

  // Resumes with the next connection, or cancelled after close(), or an
  // error accept(2) gave that another try would not fix at once (EMFILE,
  // ENFILE, ENOBUFS, ENOMEM): the caller backs off before the next accept.
  AcceptOp accept() { return AcceptOp(this); }
  // Stops accepting: closes the socket and ends a pending accept.
  void close();
  bool is_open() const { return fd_ >= 0; }
  // Waiting for a place under the cap.
  bool parked() const { return parked_; }
  // Loop thread: a place under the cap may have freed (ListenerCap posts
  // it); accepts again if a connection is waiting.
  void resume();
  SocketAddress local_address() const { return SocketAddress::local_of(fd_); }

  // IoHandler
  void on_io(std::uint32_t events) override;

 private:
  bool try_accept(AcceptOp& op);

  EventLoop* loop_;
  int fd_;
  std::shared_ptr<ListenerCap> cap_;
  Waiter* acceptor_ = nullptr;
  bool ready_ = true;    // edge-triggered: a connection may be waiting
  bool parked_ = false;  // at the cap: accept(2) is not called until resume()
};

}  // namespace sluice
