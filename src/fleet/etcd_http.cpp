#include "fleet/etcd_http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <span>

#include "tls/client_context.h"
#include "tls/openssl_error.h"

namespace sluice::fleet::http1 {
namespace {

constexpr std::chrono::milliseconds kStopPoll{100};
constexpr std::size_t kReadChunk = 64 * 1024;

std::string errno_text(int e) {
  std::string text = std::strerror(e);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] + 32);
  return text;
}

bool is_ip_literal(const std::string& host) {
  in6_addr addr{};
  return inet_pton(AF_INET, host.c_str(), &addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// A quiet watch on a host that vanished (no FIN, no RST) is noticed by TCP
// keep-alive: probes after 10 s idle, every 3 s, given up after 3.
void tune_socket(int fd) {
  const int on = 1;
  const int idle = 10;
  const int interval = 3;
  const int count = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

// SSL_write writes to the socket with write(2), which raises SIGPIPE on a
// connection the peer reset; the process may not ignore it (a test, a
// command), so the signal is blocked around the call and a SIGPIPE it
// caused is taken back off the thread's pending set.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      const timespec zero{};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

int remaining_ms(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>(left.count(), 1'000'000));
}

Io connect_fd(int fd, const addrinfo& ai, Deadline deadline, const std::atomic<bool>* stop,
              std::string& error) {
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) == 0) return Io::ok;
  if (errno != EINPROGRESS) {
    error = errno_text(errno);
    return Io::failed;
  }
  for (;;) {
    if (stop != nullptr && stop->load()) {
      error = "stopped";
      return Io::stopped;
    }
    int timeout = remaining_ms(deadline);
    if (timeout == 0) {
      error = "connect timed out";
      return Io::timed_out;
    }
    if (stop != nullptr) timeout = std::min(timeout, static_cast<int>(kStopPoll.count()));
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, timeout);
    if (n < 0 && errno != EINTR) {
      error = errno_text(errno);
      return Io::failed;
    }
    if (n > 0) break;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    error = errno_text(so_error);
    return Io::failed;
  }
  return Io::ok;
}

}  // namespace

std::optional<Endpoint> parse_endpoint(std::string_view url, std::string& error) {
  Endpoint e;
  e.url = std::string(url);
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    e.tls = true;
    rest.remove_prefix(8);
  } else {
    error = "etcd endpoint " + e.url + ": not http:// or https://";
    return std::nullopt;
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
    error = "etcd endpoint " + e.url + ": expected http(s)://HOST[:PORT]";
    return std::nullopt;
  }
  std::string_view port;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      error = "etcd endpoint " + e.url + ": an IPv6 address without ']'";
      return std::nullopt;
    }
    e.host = std::string(rest.substr(1, close - 1));
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "etcd endpoint " + e.url + ": junk after the address";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  unsigned number = 2379;
  if (!port.empty()) {
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || ptr != port.data() + port.size() || number == 0 || number > 65535) {
      error = "etcd endpoint " + e.url + ": bad port";
      return std::nullopt;
    }
  }
  if (e.host.empty()) {
    error = "etcd endpoint " + e.url + ": no host";
    return std::nullopt;
  }
  e.port = std::to_string(number);
  const bool v6 = e.host.find(':') != std::string::npos;
  e.authority = (v6 ? "[" + e.host + "]" : e.host) + ":" + e.port;
  return e;
}

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, tls::ClientContext* tls,
                                             Deadline deadline, std::string& error,
                                             const std::atomic<bool>* stop) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &found);
      rc != 0) {
    error = std::string("cannot resolve ") + endpoint.host + ": " + gai_strerror(rc);
    return nullptr;
  }
  std::unique_ptr<Connection> connection;
  error = "no address";
  for (addrinfo* ai = found; ai != nullptr && !connection; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = errno_text(errno);
      continue;
    }
    if (connect_fd(fd, *ai, deadline, stop, error) != Io::ok) {
      ::close(fd);
      continue;
    }
    tune_socket(fd);
    connection.reset(new Connection(fd, endpoint));
  }
  freeaddrinfo(found);
  if (!connection) return nullptr;
  if (endpoint.tls) {
    if (tls == nullptr) {
      error = "no TLS context";
      return nullptr;
    }
    ERR_clear_error();
    connection->ssl_ =
        tls->new_ssl(is_ip_literal(endpoint.host) ? "" : endpoint.host, endpoint.host, nullptr);
    if (connection->ssl_ == nullptr || SSL_set_fd(connection->ssl_, connection->fd_) != 1) {
      error = "cannot set up TLS: " + tls::take_openssl_errors();
      return nullptr;
    }
    if (connection->handshake(deadline, stop, error) != Io::ok) return nullptr;
  }
  return connection;
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

Io Connection::wait(bool for_write, Deadline deadline, const std::atomic<bool>* stop,
                    std::string& error) {
  for (;;) {
    if (stop != nullptr && stop->load()) return Io::stopped;
    int timeout = remaining_ms(deadline);
    if (timeout == 0) {
      error = "timed out";
      return Io::timed_out;
    }
    if (stop != nullptr) timeout = std::min(timeout, static_cast<int>(kStopPoll.count()));
    pollfd p{fd_, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    const int n = ::poll(&p, 1, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno_text(errno);
      return Io::failed;
    }
    if (n > 0) return Io::ok;  // ready, or an error the next call reports
  }
}

Io Connection::handshake(Deadline deadline, const std::atomic<bool>* stop, std::string& error) {
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl_);
    if (rc == 1) return Io::ok;
    const int reason = SSL_get_error(ssl_, rc);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
      const Io io = wait(reason == SSL_ERROR_WANT_WRITE, deadline, stop, error);
      if (io != Io::ok) {
        error = "TLS handshake: " + (io == Io::stopped ? std::string("stopped") : error);
        return io;
      }
      continue;
    }
    std::string why = tls::take_openssl_errors();
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      why += std::string(why.empty() ? "" : ": ") +
             X509_verify_cert_error_string(static_cast<int>(verify));
    }
    if (why.empty()) why = reason == SSL_ERROR_SYSCALL ? "connection closed" : "failed";
    error = "TLS handshake: " + why;
    return Io::failed;
  }
}

Io Connection::write_all(std::string_view bytes, Deadline deadline, std::string& error) {
  while (!bytes.empty()) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int rc = 0;
      {
        SigpipeGuard guard;
        rc = SSL_write(ssl_, bytes.data(),
                       static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 30)));
      }
      if (rc > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(rc));
        continue;
      }
      const int reason = SSL_get_error(ssl_, rc);
      if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
        if (const Io io = wait(reason == SSL_ERROR_WANT_WRITE, deadline, nullptr, error);
            io != Io::ok) {
          return io;
        }
        continue;
      }
      error = "TLS write failed: " + tls::take_openssl_errors();
      return Io::failed;
    }
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const Io io = wait(true, deadline, nullptr, error); io != Io::ok) return io;
      continue;
    }
    error = errno_text(errno);
    return Io::failed;
  }
  return Io::ok;
}

Io Connection::read_some(std::string& buffer, std::size_t max, Deadline deadline,
                         const std::atomic<bool>* stop, std::string& error) {
  const std::size_t old_size = buffer.size();
  const std::size_t want = std::min(max, kReadChunk);
  for (;;) {
    if (stop != nullptr && stop->load()) return Io::stopped;
    buffer.resize(old_size + want);
    char* at = buffer.data() + old_size;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      errno = 0;
      const int rc = SSL_read(ssl_, at, static_cast<int>(want));
      if (rc > 0) {
        buffer.resize(old_size + static_cast<std::size_t>(rc));
        return Io::ok;
      }
      buffer.resize(old_size);
      const int reason = SSL_get_error(ssl_, rc);
      if (reason == SSL_ERROR_ZERO_RETURN) return Io::closed;
      if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) {
        if (const Io io = wait(reason == SSL_ERROR_WANT_WRITE, deadline, stop, error);
            io != Io::ok) {
          return io;
        }
        continue;
      }
      const std::string why = tls::take_openssl_errors();
      // SSL_OP_IGNORE_UNEXPECTED_EOF: an end without close_notify is an end.
      if (reason == SSL_ERROR_SYSCALL && why.empty() && errno == 0) return Io::closed;
      error = "TLS read failed" + (why.empty() ? "" : ": " + why);
      return Io::failed;
    }
    const ssize_t n = ::recv(fd_, at, want, 0);
    if (n > 0) {
      buffer.resize(old_size + static_cast<std::size_t>(n));
      return Io::ok;
    }
    buffer.resize(old_size);
    if (n == 0) return Io::closed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (const Io io = wait(false, deadline, stop, error); io != Io::ok) return io;
      continue;
    }
    error = errno_text(errno);
    return Io::failed;
  }
}

Io ResponseReader::read_head(Deadline deadline, const std::atomic<bool>* stop, std::string& error) {
  std::array<http::HeaderField, 100> fields;
  http::ResponseParser parser(http::ParserLimits{.max_head_bytes = kMaxHeadBytes}, fields);
  for (;;) {
    const http::ParseState state = parser.parse(buffer_, http::Method::POST);
    if (state == http::ParseState::error) {
      error = std::string("malformed response head: ") + parser.error().reason;
      return Io::failed;
    }
    if (state == http::ParseState::complete) {
      const http::ResponseHead& head = parser.head();
      const std::size_t head_bytes = parser.head_bytes();
      if (head.status < 200) {  // an interim response: the final one follows
        buffer_.erase(0, head_bytes);
        parser.reset();
        continue;
      }
      status_ = head.status;
      keep_alive_ = head.keep_alive && !head.must_close;
      content_length_ = head.framing == http::Framing::content_length ? head.content_length : 0;
      body_ = http::BodyDecoder(head.framing, head.content_length);
      buffer_.erase(0, head_bytes);
      return Io::ok;
    }
    if (buffer_.size() > kMaxHeadBytes) {
      error = "response head too large";
      return Io::failed;
    }
    const Io io =
        connection_.read_some(buffer_, kMaxHeadBytes + 1 - buffer_.size(), deadline, stop, error);
    dropped_unanswered_ = !received_any_ && (io == Io::closed || io == Io::failed);
    received_any_ = received_any_ || !buffer_.empty();
    if (io == Io::closed) {
      error = buffer_.empty() ? "connection closed before a response"
                              : "connection closed inside a response head";
      return Io::failed;
    }
    if (io != Io::ok) return io;
  }
}

Io ResponseReader::read_body_some(std::string& out, Deadline deadline,
                                  const std::atomic<bool>* stop, std::string& error) {
  for (;;) {
    if (body_.done()) return Io::ok;
    if (!buffer_.empty()) {
      const auto r = body_.decode(std::span<char>(buffer_.data(), buffer_.size()));
      if (r.error) {
        error = std::string("malformed response body: ") + r.reason;
        return Io::failed;
      }
      out.append(buffer_.data(), r.data_bytes);
      buffer_.erase(0, r.consumed);
      if (r.data_bytes > 0 || r.done) return Io::ok;
      if (buffer_.size() > kMaxHeadBytes) {  // a chunk size line this long is junk
        error = "malformed response body: chunk framing too long";
        return Io::failed;
      }
    }
    const Io io = connection_.read_some(buffer_, kReadChunk, deadline, stop, error);
    if (io == Io::closed) {
      if (body_.end_of_input()) return Io::ok;
      error = "connection closed inside a response body";
      return Io::failed;
    }
    if (io != Io::ok) return io;
  }
}

Io ResponseReader::read_whole_body(std::string& out, std::size_t max, Deadline deadline,
                                   std::string& error) {
  auto too_large = [&] {
    error = "response body larger than " + std::to_string(max) + " bytes";
    return Io::failed;
  };
  if (content_length_ > max) return too_large();  // refused before reading it
  while (!body_.done()) {
    if (const Io io = read_body_some(out, deadline, nullptr, error); io != Io::ok) return io;
    if (out.size() > max) return too_large();
  }
  return Io::ok;
}

}  // namespace sluice::fleet::http1
