#include "core/listener.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/socket.h"

namespace sluice {

Result<int> open_listening_socket(const SocketAddress& addr, int backlog) {
  const int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno(errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, addr.sa(), addr.length()) != 0 || ::listen(fd, backlog) != 0) {
    const int e = errno;
    ::close(fd);
    return Error::from_errno(e);
  }
  return fd;
}

bool set_defer_accept(int fd, unsigned seconds) {
  const int value = static_cast<int>(seconds);
  return setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, sizeof value) == 0;
}

Listener::Listener(EventLoop& loop, int fd, std::shared_ptr<ListenerCap> cap)
    : loop_(&loop), fd_(fd), cap_(std::move(cap)) {
  // Linux: an accepted socket inherits TCP_NODELAY from its listener, so
  // it is set once here, not once per connection (one system call fewer
  // per accept). Also for sockets handed over or activated by systemd.
  if (fd_ >= 0) set_nodelay(fd_);
  if (fd_ >= 0 && !loop_->watch(fd_, this)) close();
}

Listener::~Listener() {
  close();
}

void Listener::close() {
  if (acceptor_ != nullptr) acceptor_->finish(Errc::cancelled);
  if (parked_) {
    cap_->unpark(*this);
    parked_ = false;
  }
  if (fd_ >= 0) {
    // Another process may hold the same socket (a binary upgrade): leave
    // the epoll set explicitly, as closing our descriptor would not.
    loop_->unwatch(fd_);
    ::close(fd_);
    fd_ = -1;
  }
}

namespace {

// Errors accept(2) reports for the pending connection it was about to
// return, not for the listening socket: the next accept may well succeed
// (accept(2), "Error handling": treat them like EAGAIN by retrying).
bool connection_error(int e) {
  switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM:  // a firewall rule refused this one connection
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool Listener::try_accept(AcceptOp& op) {
  while (true) {
    // The place is taken before accept(2), not after: workers accepting
    // at once can never pass the cap between them.
    if (cap_ && !cap_->try_take()) {
      if (cap_->park(*loop_, *this)) {
        parked_ = true;
        return false;
      }
      continue;  // a place freed while parking
    }
    Accepted a;
    a.peer.set_length(sizeof(sockaddr_storage));
    socklen_t len = a.peer.length();
    a.fd = ::accept4(fd_, a.peer.sa(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (a.fd >= 0) {
      a.peer.set_length(len);
      op.result = a;
      return true;
    }
    const int e = errno;
    if (cap_) cap_->give_back();
    // Each of these consumed one pending connection: the loop ends when
    // the queue is empty (EAGAIN), so it cannot spin.
    if (connection_error(e)) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      ready_ = false;
      return false;
    }
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays queued and
    // accepting again at once would fail again; the accept loop backs off.
    op.result = Error::from_errno(e);
    return true;
  }
}

bool Listener::AcceptOp::await_ready() {
  if (listener->fd_ < 0) {
    result = Errc::cancelled;
    return done = true;
  }
  if (listener->ready_ && !listener->parked_) done = listener->try_accept(*this);
  return done;
}

bool Listener::AcceptOp::await_suspend(std::coroutine_handle<> h) {
  if (!begin(*listener->loop_, h, 0, nullptr)) return false;
  listener->acceptor_ = this;
  owner_slot = &listener->acceptor_;
  return true;
}

Result<Accepted> Listener::AcceptOp::await_resume() {
  if (!done && reason != Errc::ok) return reason;
  return result;
}

void Listener::on_io(std::uint32_t) {
  ready_ = true;
  // Parked: the new connection waits in the kernel's queue; resume()
  // accepts it. (This wake-up costs one loop turn per arriving
  // connection, never a spin: the socket is edge-triggered.)
  if (acceptor_ != nullptr && !parked_) {
    auto* op = static_cast<AcceptOp*>(acceptor_);
    if (try_accept(*op)) op->finish(Errc::ok);
  }
}

void Listener::resume() {
  parked_ = false;
  if (fd_ < 0 || !ready_ || acceptor_ == nullptr) return;
  auto* op = static_cast<AcceptOp*>(acceptor_);
  if (try_accept(*op)) op->finish(Errc::ok);
}

}  // namespace sluice
