#include "core/socket.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/direct_syscalls.h"

namespace sluice {

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Socket::~Socket() {
  close();
}

ByteStream::Transfer Socket::read_some(std::span<char> buf) {
  while (true) {
    const ssize_t n = direct::recv(fd(), buf.data(), buf.size(), 0);
    // A short read drained the socket: epoll reports the next arrival.
    if (n > 0)
      return Transfer::moved(static_cast<std::size_t>(n), static_cast<std::size_t>(n) < buf.size());
    if (n == 0) return Transfer::ended();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Transfer::would_block_read();
    return Transfer::error(errno);
  }
}

namespace {

// Pieces that together are at most this long go out as one buffer: send(2)
// of one buffer skips the kernel's import of a msghdr and its iovecs, about
// 0.2-0.35 µs over loopback for a 200-byte head and a 612-byte body
// (docs/benchmarks.md, "One buffer per send"), where copying 2 KiB costs
// tens of nanoseconds. Larger writes keep their pieces: the copy would grow
// with them, the saving would not.
constexpr std::size_t kGatheredBytes = 2048;

}  // namespace

ByteStream::Transfer Socket::write_some(const iovec* iov, int count, int flags) {
  std::size_t total = 0;
  for (int i = 0; i < count; ++i)
    total += iov[i].iov_len;
  const void* data = iov[0].iov_base;
  char gathered[kGatheredBytes];
  if (count > 1 && total <= kGatheredBytes) {
    char* p = gathered;
    for (int i = 0; i < count; ++i) {
      std::memcpy(p, iov[i].iov_base, iov[i].iov_len);
      p += iov[i].iov_len;
    }
    data = gathered;
    count = 1;
  }
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(count);
  while (true) {
    const ssize_t n = count == 1 ? direct::send(fd(), data, total, MSG_NOSIGNAL | flags)
                                 : direct::sendmsg(fd(), &msg, MSG_NOSIGNAL | flags);
    if (n >= 0) return Transfer::moved(static_cast<std::size_t>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Transfer::would_block_write();
    return Transfer::error(errno);
  }
}

ByteStream::Transfer Socket::peek_some() {
  char byte;
  const ssize_t n = direct::recv(fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Transfer::moved(static_cast<std::size_t>(n));
  if (n == 0) return Transfer::ended();
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Transfer::would_block_read();
  return Transfer::error(errno);
}

void Socket::shutdown_transport_write() {
  ::shutdown(fd(), SHUT_WR);
}

void Socket::close_transport(bool reset) {
  if (reset) {
    linger lg{1, 0};
    setsockopt(fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  // close() also removes the fd from epoll; no EPOLL_CTL_DEL syscall needed
  // because nobody else holds a duplicate of it.
  ::close(fd());
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
