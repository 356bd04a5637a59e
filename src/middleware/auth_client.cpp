#include "middleware/auth_client.h"

#include <openssl/ssl.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <utility>

#include "core/socket.h"
#include "http/body_decoder.h"
#include "http/hop_by_hop.h"
#include "http/parser.h"
#include "tls/tls_stream.h"

namespace sluice::middleware {
namespace {

constexpr std::size_t kReadChunk = 8 * 1024;

std::uint64_t remaining_ms(std::uint64_t deadline_ms, std::uint64_t now_ms) {
  return deadline_ms > now_ms ? deadline_ms - now_ms : 1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// A read or write that ended without its bytes.
AuthFailure failure_of(Errc code) {
  switch (code) {
    case Errc::timeout:
      return AuthFailure::timeout;
    case Errc::cancelled:
      return AuthFailure::cancelled;
    default:
      return AuthFailure::malformed;
  }
}

}  // namespace

AuthClient::Parked::Parked(Parked&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), ssl_(std::exchange(o.ssl_, nullptr)) {}

AuthClient::Parked& AuthClient::Parked::operator=(Parked&& o) noexcept {
  if (this != &o) {
    this->~Parked();
    fd_ = std::exchange(o.fd_, -1);
    ssl_ = std::exchange(o.ssl_, nullptr);
  }
  return *this;
}

AuthClient::Parked::~Parked() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

AuthClient::AuthClient(AuthServer server, std::size_t workers)
    : server_(std::move(server)), pools_(workers == 0 ? 1 : workers) {}

AuthClient::~AuthClient() = default;

std::unique_ptr<ByteStream> AuthClient::take_idle(const Context& ctx) {
  WorkerPool& pool = pools_[ctx.worker % pools_.size()];
  while (!pool.idle.empty()) {
    Parked parked = std::move(pool.idle.back());
    pool.idle.pop_back();
    std::unique_ptr<ByteStream> stream;
    if (SSL* ssl = parked.take_ssl(); ssl != nullptr) {
      stream = std::make_unique<tls::TlsStream>(*ctx.loop, parked.take_fd(), ssl);
    } else {
      stream = std::make_unique<Socket>(*ctx.loop, parked.take_fd());
    }
    // The server may have closed it while it was parked (its keep-alive
    // timeout): a peek says so without taking an application byte.
    if (stream->fd() >= 0 && stream->idle_still_usable()) return stream;
  }
  return nullptr;
}

void AuthClient::park(const Context& ctx, std::unique_ptr<ByteStream> stream) {
  WorkerPool& pool = pools_[ctx.worker % pools_.size()];
  if (pool.idle.size() >= server_.max_idle || stream->fd() < 0) return;  // closed here
  stream->bind_cancel(nullptr);
  stream->shed_buffers();
  if (server_.tls) {
    const tls::TlsStream::Released r = static_cast<tls::TlsStream&>(*stream).release();
    pool.idle.emplace_back(r.fd, r.ssl);
  } else {
    pool.idle.emplace_back(static_cast<Socket&>(*stream).release(), nullptr);
  }
}

Task<std::unique_ptr<ByteStream>> AuthClient::open(const Context& ctx, std::uint64_t deadline_ms,
                                                   AuthFailure& failure, std::string& why) {
  EventLoop& loop = *ctx.loop;
  auto fd = co_await connect_to(loop, server_.address, remaining_ms(deadline_ms, loop.now_ms()),
                                ctx.cancel);
  if (!fd) {
    failure = fd.code() == Errc::timeout     ? AuthFailure::timeout
              : fd.code() == Errc::cancelled ? AuthFailure::cancelled
                                             : AuthFailure::connect;
    why = fd.code() == Errc::timeout
              ? "connect timed out"
              : "connect failed (" + std::string(to_string(fd.code())) +
                    (fd.error().sys_errno != 0
                         ? std::string(": ") + std::strerror(fd.error().sys_errno)
                         : std::string()) +
                    ")";
    co_return nullptr;
  }
  opened_.fetch_add(1, std::memory_order_relaxed);
  set_nodelay(*fd);
  if (!server_.tls) {
    auto plain = std::make_unique<Socket>(loop, *fd);
    co_return plain;
  }
  SSL* ssl = server_.tls->new_ssl(server_.sni, server_.verify_name, &resumption_);
  if (ssl == nullptr) {
    ::close(*fd);
    failure = AuthFailure::connect;
    why = "out of memory for TLS";
    co_return nullptr;
  }
  auto secure = std::make_unique<tls::TlsStream>(loop, *fd, ssl);
  secure->bind_cancel(ctx.cancel);
  if (!co_await secure->handshake(remaining_ms(deadline_ms, loop.now_ms()))) {
    failure = secure->timed_out() ? AuthFailure::timeout : AuthFailure::connect;
    why = secure->timed_out() ? "TLS handshake timed out"
                              : "TLS handshake failed: " + secure->failure();
    co_return nullptr;
  }
  co_return std::unique_ptr<ByteStream>(std::move(secure));
}

Task<AuthFailure> AuthClient::exchange(const Context& ctx, std::string_view head,
                                       std::string_view body, http::Method method,
                                       std::uint64_t timeout_ms, AuthAnswer& out,
                                       std::string& why) {
  const std::uint64_t deadline = ctx.loop->now_ms() + timeout_ms;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<ByteStream> stream = take_idle(ctx);
    const bool reused = stream != nullptr;
    if (!reused) {
      AuthFailure failure = AuthFailure::none;
      stream = co_await open(ctx, deadline, failure, why);
      if (!stream) co_return failure;
    }
    stream->bind_cancel(ctx.cancel);
    out = AuthAnswer{};
    bool answered = false;
    bool reusable = false;
    const AuthFailure f =
        co_await ask(*stream, head, body, method, deadline, out, why, answered, reusable);
    if (f == AuthFailure::none) {
      if (reusable) park(ctx, std::move(stream));
      co_return f;
    }
    // A kept connection the server closed as we sent on it: once more on a
    // fresh one (RFC 9112 §9.3.1: a request on a connection that closed
    // before any answer may be retried when it is idempotent; the auth
    // request only asks).
    const bool stale = reused && !answered && f == AuthFailure::malformed;
    if (!stale) co_return f;
  }
  co_return AuthFailure::malformed;  // not reached: a fresh connection is never stale
}

Task<AuthFailure> AuthClient::ask(ByteStream& stream, std::string_view head, std::string_view body,
                                  http::Method method, std::uint64_t deadline_ms, AuthAnswer& out,
                                  std::string& why, bool& answered, bool& reusable) {
  EventLoop& loop = stream.loop();
  if (auto w = co_await stream.write(head, body, remaining_ms(deadline_ms, loop.now_ms())); !w) {
    why = w.code() == Errc::timeout ? "timed out sending the request"
                                    : "the connection closed as the request was sent";
    co_return failure_of(w.code());
  }
  std::string in;
  std::size_t used = 0;
  std::array<http::HeaderField, 100> storage;
  http::ResponseParser parser(http::ParserLimits{}, storage);
  // The head, after any interim (1xx) responses.
  for (;;) {
    const http::ParseState state = parser.parse(std::string_view(in.data(), used), method);
    if (state == http::ParseState::error) {
      why = std::string("malformed answer: ") + parser.error().reason;
      co_return AuthFailure::malformed;
    }
    if (state == http::ParseState::complete) {
      const int status = parser.head().status;
      if (status >= 200) break;
      if (status == 101) {
        why = "the auth server switched protocols";
        co_return AuthFailure::malformed;
      }
      // RFC 9110 §15.2: interim responses come before the final one.
      in.erase(0, parser.head_bytes());
      used -= parser.head_bytes();
      parser.reset();
      continue;
    }
    in.resize(used + kReadChunk);
    auto r = co_await stream.read(std::span<char>(in.data() + used, kReadChunk),
                                  remaining_ms(deadline_ms, loop.now_ms()));
    if (!r) {
      why = r.code() == Errc::timeout ? "timed out waiting for the answer"
            : answered                ? "the answer was cut short"
                                      : "the connection closed without an answer";
      co_return failure_of(r.code());
    }
    answered = true;
    used += *r;
  }
  const http::ResponseHead& h = parser.head();
  out.status = h.status;
  const http::HopByHopFields hop(h.fields);
  for (const auto& f : h.fields) {
    if (hop.contains(f.name) || iequals(f.name, "content-length") ||
        iequals(f.name, "transfer-encoding")) {
      continue;
    }
    out.fields.push_back(Field{std::string(f.name), std::string(f.value)});
  }
  const bool keep_alive = h.keep_alive && !h.must_close;
  http::BodyDecoder decoder(h.framing, h.content_length);
  in.erase(0, parser.head_bytes());
  used -= parser.head_bytes();
  in.resize(used);
  for (;;) {
    const auto d = decoder.decode(std::span<char>(in.data(), in.size()));
    if (d.error) {
      why = std::string("malformed answer body: ") + d.reason;
      co_return AuthFailure::malformed;
    }
    if (out.body.size() + d.data_bytes > server_.max_response_body) {
      // Held in memory to be relayed whole: beyond the limit it is not
      // read further, and the connection, mid-body, is not kept.
      out.body_too_large = true;
      co_return AuthFailure::none;
    }
    out.body.append(in.data(), d.data_bytes);
    in.erase(0, d.consumed);
    if (d.done) break;
    const std::size_t before = in.size();
    in.resize(before + kReadChunk);
    auto r = co_await stream.read(std::span<char>(in.data() + before, kReadChunk),
                                  remaining_ms(deadline_ms, loop.now_ms()));
    if (!r && r.code() == Errc::closed && decoder.end_of_input()) {
      in.resize(before);
      break;  // a close-delimited body ends here
    }
    if (!r) {
      why = r.code() == Errc::timeout ? "timed out reading the answer's body"
                                      : "the answer's body was cut short";
      co_return failure_of(r.code());
    }
    in.resize(before + *r);
  }
  // Bytes after the answer were never asked for: the connection is not
  // trusted with another exchange.
  reusable = keep_alive && in.empty() && decoder.framing() != http::Framing::close_delimited;
  co_return AuthFailure::none;
}

}  // namespace sluice::middleware
