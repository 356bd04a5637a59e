#include "core/socket.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sluice {

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Socket::Socket(EventLoop& loop, int fd) : loop_(&loop), fd_(fd) {
  if (fd_ >= 0 && !loop_->watch(fd_, this)) {
    ::close(fd_);
    fd_ = -1;
  }
}

Socket::~Socket() {
  close();
}

void Socket::close(bool reset) {
  cancel();
  if (fd_ < 0) return;
  if (reset) {
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  // close() also removes the fd from epoll; no EPOLL_CTL_DEL syscall needed
  // because nobody else holds a duplicate of it.
  ::close(fd_);
  fd_ = -1;
}

int Socket::release() {
  cancel();
  const int fd = fd_;
  if (fd_ >= 0) loop_->unwatch(fd_);
  fd_ = -1;
  idle_handler_ = nullptr;
  return fd;
}

void Socket::cancel() {
  if (reader_ != nullptr) reader_->finish(Errc::cancelled);
  if (writer_ != nullptr) writer_->finish(Errc::cancelled);
}

void Socket::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

// ---- reads ----

Socket::ReadOp Socket::read(std::span<char> buf, std::uint64_t timeout_ms) {
  return ReadOp(this, buf, timeout_ms);
}

Socket::ReadinessOp Socket::wait_readable(std::uint64_t timeout_ms) {
  return ReadinessOp(this, timeout_ms);
}

bool Socket::try_read(ReadinessOp& wait) {
  if (wait.peek_only) return read_ready_ || rdhup_;
  auto& op = static_cast<ReadOp&>(wait);
  while (true) {
    const ssize_t n = ::recv(fd_, op.buf.data(), op.buf.size(), 0);
    if (n > 0) {
      // A short read drained the socket; edge-triggered epoll will report
      // the next arrival, so skip the EAGAIN round trip next time.
      if (static_cast<std::size_t>(n) < op.buf.size()) read_ready_ = false;
      op.result = static_cast<std::size_t>(n);
      return true;
    }
    if (n == 0) {
      op.result = Errc::closed;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      read_ready_ = false;
      return false;
    }
    op.result = Error::from_errno(errno);
    return true;
  }
}

bool Socket::nothing_to_read() {
  if (fd_ < 0 || rdhup_) return false;
  if (!read_ready_) return true;
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    read_ready_ = false;
    return true;
  }
  return false;  // a byte, the end of the stream, or an error
}

bool Socket::ReadinessOp::await_ready() {
  if (sock->fd_ < 0) {
    closed = true;
    return done = true;
  }
  if (sock->read_ready_ || sock->rdhup_) done = sock->try_read(*this);
  return done;
}

bool Socket::ReadinessOp::await_suspend(std::coroutine_handle<> h) {
  if (!begin(*sock->loop_, h, timeout_ms, sock->token_)) return false;
  sock->reader_ = this;
  owner_slot = &sock->reader_;
  return true;
}

Result<std::size_t> Socket::ReadinessOp::await_resume() {
  if (closed) return Errc::closed;
  if (!done && reason != Errc::ok) return reason;  // timeout or cancelled
  return std::size_t{0};
}

bool Socket::ReadOp::await_ready() {
  if (sock->fd_ < 0) {
    result = Errc::closed;
    return done = true;
  }
  if (sock->read_ready_ || sock->rdhup_) done = sock->try_read(*this);
  return done;
}

Result<std::size_t> Socket::ReadOp::await_resume() {
  if (done) return result;
  if (reason != Errc::ok) return reason;  // timeout or cancelled
  return result;
}

// ---- writes ----

void Socket::WriteOp::add(std::span<const char> piece) {
  if (piece.empty()) return;
  iov[iov_count].iov_base = const_cast<char*>(piece.data());
  iov[iov_count].iov_len = piece.size();
  ++iov_count;
  total += piece.size();
}

Socket::WriteOp Socket::write(std::span<const char> buf, std::uint64_t timeout_ms) {
  return WriteOp(this, timeout_ms, buf);
}

Socket::WriteOp Socket::write(std::span<const char> a, std::span<const char> b,
                              std::uint64_t timeout_ms, bool more) {
  return WriteOp(this, timeout_ms, a, b, more ? MSG_MORE : 0);
}

Socket::WriteOp Socket::wait_writable(std::uint64_t timeout_ms) {
  return WriteOp(this, timeout_ms, WriteOp::WaitOnly{});
}

bool Socket::try_write(WriteOp& op) {
  if (op.wait_only) return true;
  while (op.written < op.total) {
    msghdr msg{};
    msg.msg_iov = op.iov;
    msg.msg_iovlen = static_cast<std::size_t>(op.iov_count);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | op.flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        write_ready_ = false;
        return false;
      }
      op.error = Error::from_errno(errno);
      return true;
    }
    op.written += static_cast<std::size_t>(n);
    // Drop the pieces sent and trim the first partly sent one.
    std::size_t left = static_cast<std::size_t>(n);
    int first = 0;
    while (first < op.iov_count && left >= op.iov[first].iov_len) {
      left -= op.iov[first].iov_len;
      ++first;
    }
    if (first > 0) {
      for (int i = first; i < op.iov_count; ++i)
        op.iov[i - first] = op.iov[i];
      op.iov_count -= first;
    }
    if (left > 0) {
      op.iov[0].iov_base = static_cast<char*>(op.iov[0].iov_base) + left;
      op.iov[0].iov_len -= left;
    }
    if (op.written < op.total) write_ready_ = false;  // the send buffer is full
  }
  return true;
}

bool Socket::WriteOp::await_ready() {
  if (sock->fd_ < 0) {
    error = Error{Errc::closed, 0};
    return done = true;
  }
  if (wait_only) return done = sock->write_ready_;
  if (total == 0) return done = true;
  if (sock->write_ready_) done = sock->try_write(*this);
  return done;
}

bool Socket::WriteOp::await_suspend(std::coroutine_handle<> h) {
  if (!begin(*sock->loop_, h, timeout_ms, sock->token_)) return false;
  sock->writer_ = this;
  owner_slot = &sock->writer_;
  return true;
}

Result<std::size_t> Socket::WriteOp::await_resume() {
  if (!done && reason != Errc::ok) return reason;
  if (error.code != Errc::ok) return error;
  return written;
}

// ---- readiness ----

void Socket::on_io(std::uint32_t events) {
  if (idle_handler_ != nullptr && reader_ == nullptr && writer_ == nullptr) {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      read_ready_ = true;
      idle_handler_->on_io(events);  // may destroy this socket: return at once
      return;
    }
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    read_ready_ = true;
    if (events & (EPOLLRDHUP | EPOLLHUP)) rdhup_ = true;
    if (reader_ != nullptr) {
      auto* op = static_cast<ReadinessOp*>(reader_);
      if (try_read(*op)) op->finish(Errc::ok);
    }
  }
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    write_ready_ = true;
    if (writer_ != nullptr) {
      auto* op = static_cast<WriteOp*>(writer_);
      if (try_write(*op)) op->finish(Errc::ok);
    }
  }
}

// ---- connect ----

ConnectOp::~ConnectOp() {
  if (fd >= 0) ::close(fd);
}

bool ConnectOp::await_ready() {
  fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = Error::from_errno(errno);
    return done = true;
  }
  if (::connect(fd, addr.sa(), addr.length()) == 0) return done = true;
  if (errno != EINPROGRESS) {
    error = Error::from_errno(errno);
    return done = true;
  }
  return false;
}

bool ConnectOp::await_suspend(std::coroutine_handle<> h) {
  if (!begin(*loop, h, timeout_ms, cancel_token)) return false;
  if (!loop->watch(fd, this)) {
    error = Error::from_errno(errno);
    finish(Errc::ok);
    return true;
  }
  self_slot = this;
  owner_slot = &self_slot;
  return true;
}

void ConnectOp::on_io(std::uint32_t) {
  if (self_slot == nullptr) return;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == EINPROGRESS) return;
  if (err != 0) error = Error::from_errno(err);
  finish(Errc::ok);
}

Result<int> ConnectOp::await_resume() {
  if (!done && fd >= 0) loop->unwatch(fd);  // the caller's Socket registers it again
  if (!done && reason != Errc::ok) return reason;
  if (error.code != Errc::ok) return error;
  set_nodelay(fd);
  int out = fd;
  fd = -1;
  return out;
}

}  // namespace sluice
