#include "core/listener.h"

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

Listener::Listener(EventLoop& loop, int fd) : loop_(&loop), fd_(fd) {
  if (fd_ >= 0 && !loop_->watch(fd_, this)) close();
}

Listener::~Listener() {
  close();
}

void Listener::close() {
  if (acceptor_ != nullptr) acceptor_->finish(Errc::cancelled);
  if (fd_ >= 0) {
    // Another process may hold the same socket (a binary upgrade): leave
    // the epoll set explicitly, as closing our descriptor would not.
    loop_->unwatch(fd_);
    ::close(fd_);
    fd_ = -1;
  }
}

bool Listener::try_accept(AcceptOp& op) {
  while (true) {
    Accepted a;
    a.peer.set_length(sizeof(sockaddr_storage));
    socklen_t len = a.peer.length();
    a.fd = ::accept4(fd_, a.peer.sa(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (a.fd >= 0) {
      a.peer.set_length(len);
      set_nodelay(a.fd);
      op.result = a;
      return true;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ready_ = false;
      return false;
    }
    // EMFILE and friends: report, the accept loop decides to back off.
    op.result = Error::from_errno(errno);
    return true;
  }
}

bool Listener::AcceptOp::await_ready() {
  if (listener->fd_ < 0) {
    result = Errc::cancelled;
    return done = true;
  }
  if (listener->ready_) done = listener->try_accept(*this);
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
  if (acceptor_ != nullptr) {
    auto* op = static_cast<AcceptOp*>(acceptor_);
    if (try_accept(*op)) op->finish(Errc::ok);
  }
}

}  // namespace sluice
