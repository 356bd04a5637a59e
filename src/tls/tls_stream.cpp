#include "tls/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls/certificate.h"
#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

// Small pieces (a head, a chunk size line, a chunk) are joined into one
// record, so a response head and its body leave as one record and one
// send; a piece this large goes to SSL_write as it is.
constexpr std::size_t kJoinBelow = 4 * 1024;
constexpr std::size_t kJoinCapacity = 16 * 1024;  // one full TLS record
thread_local char join_buffer[kJoinCapacity];

}  // namespace

TlsStream::TlsStream(EventLoop& loop, int fd, SSL* ssl) : ByteStream(loop, fd), ssl_(ssl) {
  if (this->fd() >= 0) SSL_set_fd(ssl_, this->fd());
}

const std::string& TlsStream::failure() const {
  static const std::string none;
  return failure_ ? *failure_ : none;
}

TlsStream::~TlsStream() {
  if (ssl_ != nullptr) close();
  SSL_free(ssl_);
}

TlsStream::Released TlsStream::release() {
  Released r;
  r.ssl = ssl_;
  ssl_ = nullptr;
  r.fd = detach_fd();
  return r;
}

Task<bool> TlsStream::handshake(std::uint64_t timeout_ms) {
  const std::uint64_t deadline = timeout_ms == 0 ? 0 : loop().now_ms() + timeout_ms;
  for (;;) {
    if (fd() < 0) {
      fail("connection closed");
      co_return false;
    }
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      shed_buffers();
      co_return true;
    }
    const int e = SSL_get_error(ssl_, r);
    std::uint64_t left = 0;
    if (deadline != 0) {
      const std::uint64_t now = loop().now_ms();
      left = deadline > now ? deadline - now : 1;
    }
    if (e == SSL_ERROR_WANT_READ) {
      clear_read_ready();
      const auto waited = co_await wait_readable(left);
      if (!waited && waited.code() != Errc::closed) {
        timed_out_ = true;
        fail(waited.code() == Errc::timeout ? "timed out" : "cancelled");
        co_return false;
      }
      continue;  // readable, or closed: the handshake step says which
    }
    if (e == SSL_ERROR_WANT_WRITE) {
      clear_write_ready();
      const auto waited = co_await wait_writable(left);
      if (!waited) {
        timed_out_ = waited.code() == Errc::timeout || waited.code() == Errc::cancelled;
        fail(std::string(to_string(waited.code())));
        co_return false;
      }
      continue;
    }
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
      const std::string queued = take_openssl_errors();
      fail(!queued.empty() ? queued
           : errno != 0    ? std::string("connection error: ") + std::strerror(errno)
                           : std::string("peer closed the connection during the handshake"));
      co_return false;
    }
    std::string why = take_openssl_errors();
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      why += std::string(why.empty() ? "" : ": ") + X509_verify_cert_error_string(verify);
    }
    fail(why.empty() ? std::string("handshake failed") : std::move(why));
    co_return false;
  }
}

void TlsStream::shed_buffers() {
  if (ssl_ != nullptr) SSL_free_buffers(ssl_);
}

std::string_view TlsStream::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return p == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(p), n);
}

std::string_view TlsStream::server_name() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? std::string_view() : std::string_view(name);
}

bool TlsStream::resumed() const {
  return SSL_session_reused(ssl_) == 1;
}

const char* TlsStream::version() const {
  return SSL_get_version(ssl_);
}

std::string TlsStream::peer_subject() const {
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  return rfc2253(X509_get_subject_name(peer));
}

sluice::ByteStream::Transfer TlsStream::outcome_of(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Transfer::would_block_read();
    case SSL_ERROR_WANT_WRITE:
      return Transfer::would_block_write();
    case SSL_ERROR_ZERO_RETURN:
      return Transfer::ended();
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      // An end without close_notify reads as an ordinary end (HTTP/1 has its
      // own framing; RFC 8446 §6.1 leaves truncation to the application).
      return errno == 0 ? Transfer::ended() : Transfer::error(errno);
    default:
      ERR_clear_error();
      return Transfer::error(EPROTO);
  }
}

sluice::ByteStream::Transfer TlsStream::read_some(std::span<char> buf) {
  std::size_t n = 0;
  errno = 0;
  const int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
  if (r == 1) return Transfer::moved(n);
  return outcome_of(r);
}

sluice::ByteStream::Transfer TlsStream::write_some(const iovec* iov, int count, int /*flags*/) {
  const void* data = iov[0].iov_base;
  std::size_t len = iov[0].iov_len;
  if (count > 1 && len < kJoinBelow) {
    // The same pieces always join into the same bytes, so a write retried
    // after WANT_WRITE presents what OpenSSL expects (the buffer may move:
    // SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    len = 0;
    for (int i = 0; i < count && len < kJoinCapacity; ++i) {
      const std::size_t take = std::min(iov[i].iov_len, kJoinCapacity - len);
      std::memcpy(join_buffer + len, iov[i].iov_base, take);
      len += take;
    }
    data = join_buffer;
  }
  std::size_t n = 0;
  errno = 0;
  const int r = SSL_write_ex(ssl_, data, len, &n);
  if (r == 1) return Transfer::moved(n);
  return outcome_of(r);
}

sluice::ByteStream::Transfer TlsStream::peek_some() {
  // During the handshake a peek would run it: report "something to read"
  // and let handshake() take the next step itself.
  if (!SSL_is_init_finished(ssl_)) return Transfer::moved(1);
  char c;
  std::size_t n = 0;
  errno = 0;
  const int r = SSL_peek_ex(ssl_, &c, 1, &n);
  if (r == 1) return Transfer::moved(n);
  return outcome_of(r);
}

void TlsStream::shutdown_transport_write() {
  if (!sent_close_notify_ && SSL_is_init_finished(ssl_)) {
    sent_close_notify_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify, best effort: never waits
    ERR_clear_error();
  }
  ::shutdown(fd(), SHUT_WR);
}

void TlsStream::close_transport(bool reset) {
  if (reset) {
    const linger hard{1, 0};
    ::setsockopt(fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    // A reset ends the connection, not the session: marked as shut down,
    // OpenSSL keeps it resumable (it drops the session of a connection
    // freed mid-way as if it were compromised).
    if (SSL_is_init_finished(ssl_)) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN);
  } else if (!sent_close_notify_ && SSL_is_init_finished(ssl_)) {
    sent_close_notify_ = true;
    ERR_clear_error();
    SSL_set_quiet_shutdown(ssl_, 0);
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  ::close(fd());
}

}  // namespace sluice::tls
