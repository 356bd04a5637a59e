#include "core/byte_stream.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>

namespace sluice {
namespace {
// Events after which a read (or a transport that wants to read) may
// progress, and those after which a write may.
constexpr std::uint32_t kReadableEvents = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t kWritableEvents = EPOLLOUT | EPOLLHUP | EPOLLERR;
}  // namespace

ByteStream::ByteStream(EventLoop& loop, int fd) : loop_(&loop), fd_(fd) {
  if (fd_ >= 0 && !loop_->watch(fd_, this)) {
    ::close(fd_);
    fd_ = -1;
  }
}

ByteStream::~ByteStream() {
  // A derived destructor closes through its transport; this only keeps a
  // forgotten descriptor from leaking.
  cancel();
  if (fd_ >= 0) ::close(fd_);
}

void ByteStream::close(bool reset) {
  cancel();
  if (fd_ < 0) return;
  close_transport(reset);
  fd_ = -1;
}

int ByteStream::detach_fd() {
  cancel();
  const int fd = fd_;
  if (fd_ >= 0) loop_->unwatch(fd_);
  fd_ = -1;
  idle_handler_ = nullptr;
  return fd;
}

void ByteStream::cancel() {
  if (reader_ != nullptr) reader_->finish(Errc::cancelled);
  if (writer_ != nullptr) writer_->finish(Errc::cancelled);
}

void ByteStream::shutdown_write() {
  if (fd_ >= 0) shutdown_transport_write();
}

// ---- reads ----

ByteStream::ReadOp ByteStream::read(std::span<char> buf, std::uint64_t timeout_ms) {
  return ReadOp(this, buf, timeout_ms);
}

ByteStream::ReadinessOp ByteStream::wait_readable(std::uint64_t timeout_ms) {
  return ReadinessOp(this, timeout_ms);
}

bool ByteStream::try_read(ReadinessOp& wait) {
  if (wait.peek_only) {
    // A socket's readiness is its own; a TLS stream's is a guess once a
    // record was read (the socket may hold another one, or nothing), and
    // guessing wrong makes an idle connection wait inside a read, holding
    // a buffer. So such a transport is asked.
    if (read_ready_ && !rdhup_ && !is_plain_socket()) return !nothing_to_read();
    return read_ready_ || rdhup_;
  }
  auto& op = static_cast<ReadOp&>(wait);
  const Transfer t = read_some(op.buf);
  switch (t.outcome) {
    case Transfer::Outcome::done:
      // A drained transport will be reported again by edge-triggered epoll
      // when more arrives, so skip the EAGAIN round trip next time.
      if (t.drained) read_ready_ = false;
      op.result = t.bytes;
      return true;
    case Transfer::Outcome::want_read:
      read_ready_ = false;
      op.wants_write = false;
      return false;
    case Transfer::Outcome::want_write:
      write_ready_ = false;
      op.wants_write = true;
      return false;
    case Transfer::Outcome::closed:
      op.result = Errc::closed;
      return true;
    case Transfer::Outcome::failed:
      break;
  }
  op.result = Error::from_errno(t.sys_errno);
  return true;
}

bool ByteStream::nothing_to_read() {
  if (fd_ < 0 || rdhup_) return false;
  if (!read_ready_) return true;
  if (peek_some().outcome == Transfer::Outcome::want_read) {
    read_ready_ = false;
    return true;
  }
  return false;  // a byte, the end of the stream, or an error
}

bool ByteStream::ReadinessOp::await_ready() {
  if (stream->fd_ < 0) {
    closed = true;
    return done = true;
  }
  if (stream->read_ready_ || stream->rdhup_) done = stream->try_read(*this);
  return done;
}

bool ByteStream::ReadinessOp::await_suspend(std::coroutine_handle<> h) {
  if (!begin(*stream->loop_, h, timeout_ms, stream->token_)) return false;
  stream->reader_ = this;
  owner_slot = &stream->reader_;
  return true;
}

Result<std::size_t> ByteStream::ReadinessOp::await_resume() {
  if (closed) return Errc::closed;
  if (!done && reason != Errc::ok) return reason;  // timeout or cancelled
  return std::size_t{0};
}

bool ByteStream::ReadOp::await_ready() {
  if (stream->fd_ < 0) {
    result = Errc::closed;
    return done = true;
  }
  if (stream->read_ready_ || stream->rdhup_) done = stream->try_read(*this);
  return done;
}

Result<std::size_t> ByteStream::ReadOp::await_resume() {
  if (done) return result;
  if (reason != Errc::ok) return reason;  // timeout or cancelled
  return result;
}

// ---- writes ----

void ByteStream::WriteOp::add(std::span<const char> piece) {
  if (piece.empty()) return;
  iov[iov_count].iov_base = const_cast<char*>(piece.data());
  iov[iov_count].iov_len = piece.size();
  ++iov_count;
  total += piece.size();
}

ByteStream::WriteOp::Rest ByteStream::WriteOp::rest() const {
  Rest r{stream, {}, iov_count, total, written, flags, wants_read, timeout_ms};
  std::copy(iov, iov + iov_count, r.iov);
  return r;
}

ByteStream::WriteOp::WriteOp(const Rest& r)
    : stream(r.stream),
      iov_count(r.iov_count),
      total(r.total),
      written(r.written),
      flags(r.flags),
      wants_read(r.wants_read),
      timeout_ms(r.timeout_ms) {
  std::copy(r.iov, r.iov + r.iov_count, iov);
}

ByteStream::WriteOp ByteStream::write(std::span<const char> buf, std::uint64_t timeout_ms) {
  return WriteOp(this, timeout_ms, buf);
}

ByteStream::WriteOp ByteStream::write(std::span<const char> a, std::span<const char> b,
                                      std::uint64_t timeout_ms, bool more) {
  return WriteOp(this, timeout_ms, a, b, more ? MSG_MORE : 0);
}

ByteStream::WriteOp ByteStream::write_pieces(std::span<const char> a, std::span<const char> b,
                                             std::span<const char> c, std::span<const char> d,
                                             std::uint64_t timeout_ms, bool more) {
  return WriteOp(this, timeout_ms, a, b, c, d, more ? MSG_MORE : 0);
}

ByteStream::WriteOp ByteStream::wait_writable(std::uint64_t timeout_ms) {
  return WriteOp(this, timeout_ms, WriteOp::WaitOnly{});
}

bool ByteStream::try_write(WriteOp& op) {
  if (op.wait_only) return true;
  while (op.written < op.total) {
    const Transfer t = write_some(op.iov, op.iov_count, op.flags);
    switch (t.outcome) {
      case Transfer::Outcome::done:
        break;
      case Transfer::Outcome::want_write:
        write_ready_ = false;
        op.wants_read = false;
        return false;
      case Transfer::Outcome::want_read:
        read_ready_ = false;
        op.wants_read = true;
        return false;
      case Transfer::Outcome::closed:
        op.error = Error{Errc::closed, 0};
        return true;
      case Transfer::Outcome::failed:
        op.error = Error::from_errno(t.sys_errno);
        return true;
    }
    op.written += t.bytes;
    // Drop the pieces sent and trim the first partly sent one.
    std::size_t left = t.bytes;
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
    // A short write does not mean the send buffer is full: a TLS stream
    // takes one record per call. The next call says whether it is.
  }
  return true;
}

bool ByteStream::WriteOp::await_ready() {
  if (stream->fd_ < 0) {
    error = Error{Errc::closed, 0};
    return done = true;
  }
  if (wait_only) return done = stream->write_ready_;
  if (total == 0) return done = true;
  if (stream->write_ready_) done = stream->try_write(*this);
  return done;
}

bool ByteStream::WriteOp::await_suspend(std::coroutine_handle<> h) {
  if (!begin(*stream->loop_, h, timeout_ms, stream->token_)) return false;
  stream->writer_ = this;
  owner_slot = &stream->writer_;
  return true;
}

Result<std::size_t> ByteStream::WriteOp::await_resume() {
  if (!done && reason != Errc::ok) return reason;
  if (error.code != Errc::ok) return error;
  return written;
}

// ---- readiness ----

void ByteStream::on_io(std::uint32_t events) {
  const bool readable = (events & kReadableEvents) != 0;
  if (readable) {
    read_ready_ = true;
    if (events & (EPOLLRDHUP | EPOLLHUP)) rdhup_ = true;
  }
  if (idle_handler_ != nullptr && reader_ == nullptr && writer_ == nullptr && readable) {
    idle_handler_->on_io(events);  // may destroy this stream: return at once
    return;
  }
  // Each pending operation is retried on the readiness its transport waits
  // for: a read usually on readable, but a TLS read may wait to write.
  if (readable) {
    if (reader_ != nullptr) {
      auto* op = static_cast<ReadinessOp*>(reader_);
      if (!op->wants_write && try_read(*op)) op->finish(Errc::ok);
    }
    if (writer_ != nullptr) {
      auto* op = static_cast<WriteOp*>(writer_);
      if (op->wants_read && try_write(*op)) op->finish(Errc::ok);
    }
  }
  if (events & kWritableEvents) {
    write_ready_ = true;
    if (writer_ != nullptr) {
      auto* op = static_cast<WriteOp*>(writer_);
      if (!op->wants_read && try_write(*op)) op->finish(Errc::ok);
    }
    if (reader_ != nullptr) {
      auto* op = static_cast<ReadinessOp*>(reader_);
      if (op->wants_write && try_read(*op)) op->finish(Errc::ok);
    }
  }
}

}  // namespace sluice
