// A file as a response body (Downstream::send_file): read and sent in
// pieces in general, handed to the kernel with sendfile(2) where the
// bytes go unchanged onto a TCP socket.
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "core/socket.h"
#include "observe/request_record.h"
#include "proxy/downstream.h"
#include "proxy/http1_downstream.h"

namespace sluice::proxy {
namespace {

constexpr std::uint64_t kFilePiece = 64 * 1024;
// Bytes per sendfile(2) call: a large file does not hold the worker's
// thread for long before it looks at its other connections.
constexpr std::size_t kSendfileChunk = 1024 * 1024;

}  // namespace

Task<bool> Downstream::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
  std::string piece(static_cast<std::size_t>(std::min(length, kFilePiece)), '\0');
  std::uint64_t left = length;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece.size()));
    const ssize_t n = ::pread(fd, piece.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) co_return false;  // an error, or the file shrank under us
    offset += static_cast<std::uint64_t>(n);
    left -= static_cast<std::uint64_t>(n);
    const bool sent =
        co_await send_body(std::string_view(piece.data(), static_cast<std::size_t>(n)), left == 0);
    if (!sent) co_return false;
  }
  co_return true;
}

// Plain TCP and a Content-Length body: the head goes first, then the
// kernel copies the file to the socket without it passing through here.
Task<bool> Http1Downstream::send_file(int fd, std::uint64_t offset, std::uint64_t length) {
  if (!c_.stream.is_plain_socket() || framing_ != http::H1Framing::length) {
    co_return co_await Downstream::send_file(fd, offset, length);
  }
  const std::string_view head(head_buf_ ? head_buf_.data() : nullptr, held_head_);
  held_head_ = 0;
  if (!head.empty() && !co_await write(head)) co_return false;
  auto& socket = static_cast<Socket&>(c_.stream);
  auto at = static_cast<off_t>(offset);
  std::uint64_t left = length;
  while (left > 0) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(left, kSendfileChunk));
    const ssize_t n = ::sendfile(socket.fd(), fd, &at, want);
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      if (record_ != nullptr) record_->bytes_out += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) co_return false;  // the file shrank: the response cannot be completed
    if (errno == EINTR) continue;
    if (errno != EAGAIN) co_return false;
    // An EAGAIN clears readiness, so the wait suspends until epoll says so.
    socket.note_write_full();
    if (!co_await socket.wait_writable(write_timeout_ms_)) co_return false;
  }
  co_return true;
}

}  // namespace sluice::proxy
