#include "balance/health_checker.h"

#include <spdlog/spdlog.h>
#include <cstdio>
#include <cstring>

#include "core/socket.h"
#include "http/h2_client_connection.h"
#include "tls/client_context.h"
#include "tls/tls_stream.h"

namespace sluice::balance {

HealthChecker::HealthChecker(std::vector<HealthTarget> targets) : targets_(std::move(targets)) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::start() {
  if (targets_.empty()) return;
  thread_ = std::thread([this] {
    running_ = targets_.size();
    for (auto& t : targets_)
      spawn(probe_loop(t));
    loop_.run();
  });
}

void HealthChecker::stop() {
  if (!thread_.joinable()) return;
  loop_.post([this] { cancel_.cancel(); });
  thread_.join();
}

void HealthChecker::probe_ended() {
  if (--running_ == 0) loop_.stop();
}

Task<void> HealthChecker::probe_loop(HealthTarget& t) {
  ServerState& state = t.balancer->state(t.server);
  const std::string& address = t.balancer->spec(t.server).address;
  int good = 0;
  int bad = 0;
  while (co_await sleep_for(loop_, t.spec.interval_ms, &cancel_) == Errc::ok) {
    std::string why;
    bool ours = false;  // the probe failed for want of a descriptor or port here
    const bool ok = co_await probe(t, why, ours);
    if (cancel_.cancelled()) break;
    if (ours) {
      // Says nothing about the server: neither up nor down.
      spdlog::warn("backend '{}' server {}: health check not sent: {}", t.backend, address, why);
      continue;
    }
    const bool healthy = state.healthy.load(std::memory_order_relaxed);
    if (ok) {
      bad = 0;
      if (!healthy && ++good >= t.spec.rise) {
        state.up_since_ms.store(loop_.now_ms(), std::memory_order_relaxed);
        state.healthy.store(true, std::memory_order_relaxed);
        spdlog::warn("backend '{}' server {}: up ({} good check{} in a row)", t.backend, address,
                     good, good == 1 ? "" : "s");
      }
    } else {
      good = 0;
      if (healthy && ++bad >= t.spec.fall) {
        state.healthy.store(false, std::memory_order_relaxed);
        spdlog::warn("backend '{}' server {}: down ({} failed check{} in a row, last: {})",
                     t.backend, address, bad, bad == 1 ? "" : "s", why);
      }
    }
  }
  probe_ended();
}

namespace {

std::uint64_t remaining_ms(std::uint64_t deadline_ms, std::uint64_t now_ms) {
  return deadline_ms > now_ms ? deadline_ms - now_ms : 1;
}

bool expected(const HealthSpec& spec, int status) {
  for (const auto& [first, last] : spec.expect_status) {
    if (status >= first && status <= last) return true;
  }
  return false;
}

}  // namespace

Task<bool> HealthChecker::probe(HealthTarget& t, std::string& why, bool& ours) {
  const std::uint64_t deadline = loop_.now_ms() + t.spec.timeout_ms;
  const ServerState& state = t.balancer->state(t.server);
  const Endpoint* endpoint = state.endpoint.load(std::memory_order_acquire);
  if (endpoint == nullptr || !state.resolved.load(std::memory_order_acquire)) {
    why = "its name does not resolve";
    co_return false;
  }
  auto fd = co_await connect_to(loop_, endpoint->addr, t.spec.timeout_ms, &cancel_);
  if (!fd) {
    ours = fd.error().is_local_shortage();
    why = ours                         ? std::strerror(fd.error().sys_errno)
          : fd.code() == Errc::timeout ? "connect timed out"
                                       : "connect failed";
    co_return false;
  }
  if (!t.spec.http) {
    // A tcp check only connects, TLS backend or not.
    Socket sock(loop_, *fd);
    co_return true;
  }
  std::unique_ptr<ByteStream> stream = co_await open_stream(t, *fd, deadline, why, ours);
  if (!stream) co_return false;
  ByteStream& sock = *stream;
  // A server with name-based virtual hosts answers a Host it does not know
  // with 404 or 421 (RFC 9110 §15.5.20): health_check.host names the one it
  // serves.
  const std::string& host = t.spec.host.empty() ? t.balancer->spec(t.server).address : t.spec.host;
  if (t.h2) {
    const int status = co_await ask_h2(t, sock, host, deadline, why);
    if (status == 0) co_return false;
    if (!expected(t.spec, status)) {
      why = "status " + std::to_string(status);
      co_return false;
    }
    co_return true;
  }
  const std::string request = "GET " + t.spec.path + " HTTP/1.1\r\nHost: " + host +
                              "\r\nUser-Agent: sluice-health-check\r\nConnection: close\r\n\r\n";
  if (!co_await sock.write(request, t.spec.timeout_ms)) {
    why = "request not sent";
    co_return false;
  }
  char buf[512];
  std::size_t used = 0;
  while (std::memchr(buf, '\n', used) == nullptr && used < sizeof buf - 1) {
    const std::uint64_t now = loop_.now_ms();
    auto r = co_await sock.read(std::span<char>(buf + used, sizeof buf - 1 - used),
                                remaining_ms(deadline, now));
    if (!r) {
      why = r.code() == Errc::timeout
                ? "timed out: no answer within " + std::to_string(t.spec.timeout_ms) + " ms"
                : "closed without an answer";
      co_return false;
    }
    used += *r;
  }
  buf[used] = '\0';
  int status = 0;
  if (std::sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
    why = "not an HTTP response";
    co_return false;
  }
  if (!expected(t.spec, status)) {
    why = "status " + std::to_string(status);
    co_return false;
  }
  co_return true;
}

namespace {

// What an h2 probe learns of its one stream.
struct ProbeStream final : http::H2ClientConnection::Handler {
  void on_head(http::H2ClientStreamState&) override {}
  void on_body(http::H2ClientStreamState& s) override { s.body.clear(); }
  void on_output_taken(http::H2ClientStreamState&) override {}
  void on_close(http::H2ClientStreamState&, std::uint32_t) override {}
};

}  // namespace

// One GET on a fresh HTTP/2 connection, as the proxy would send it; the
// head's status is the answer (the body is not waited for).
Task<int> HealthChecker::ask_h2(HealthTarget& t, ByteStream& stream, const std::string& host,
                                std::uint64_t deadline_ms, std::string& why) {
  if (t.tls && static_cast<tls::TlsStream&>(stream).alpn() != "h2") {
    why = "the server did not agree to HTTP/2 (ALPN h2)";
    co_return 0;
  }
  ProbeStream handler;
  http::H2ClientConnection codec(http::H2ClientLimits{}, handler);
  http::H2ClientStreamState s;
  const http::HeaderField fields[] = {{"user-agent", "sluice-health-check"}};
  http::H2Request req;
  req.method = "GET";
  req.scheme = t.tls ? "https" : "http";
  req.authority = host;
  req.path = t.spec.path;
  req.fields = fields;
  codec.submit_request(s, req);
  std::string out;
  char buf[4096];
  while (!s.head_done) {
    out.clear();
    codec.take_output(out, 64 * 1024);
    if (!out.empty() && !co_await stream.write(out, remaining_ms(deadline_ms, loop_.now_ms()))) {
      why = "request not sent";
      co_return 0;
    }
    if (s.closed) {
      why = "the server reset the stream";
      co_return 0;
    }
    auto r = co_await stream.read(std::span<char>(buf, sizeof buf),
                                  remaining_ms(deadline_ms, loop_.now_ms()));
    if (!r) {
      why = r.code() == Errc::timeout
                ? "timed out: no answer within " + std::to_string(t.spec.timeout_ms) + " ms"
                : "closed without an answer";
      co_return 0;
    }
    if (!codec.receive(std::string_view(buf, *r))) {
      why = std::string("HTTP/2: ") + codec.failure();
      co_return 0;
    }
  }
  co_return s.status;
}

Task<std::unique_ptr<ByteStream>> HealthChecker::open_stream(HealthTarget& t, int fd,
                                                             std::uint64_t deadline_ms,
                                                             std::string& why, bool& ours) {
  if (!t.tls) {
    std::unique_ptr<ByteStream> plain = std::make_unique<Socket>(loop_, fd);
    plain->bind_cancel(&cancel_);
    co_return plain;
  }
  // No resumption slot: a probe every few seconds costs little, and a
  // full handshake checks the certificate each time.
  SSL* ssl = t.tls->new_ssl(t.sni, t.verify_name, nullptr);
  if (ssl == nullptr) {
    Socket closing(loop_, fd);
    ours = true;
    why = "out of memory for TLS";
    co_return nullptr;
  }
  auto secure = std::make_unique<tls::TlsStream>(loop_, fd, ssl);
  secure->bind_cancel(&cancel_);
  if (!co_await secure->handshake(remaining_ms(deadline_ms, loop_.now_ms()))) {
    why = secure->timed_out() ? "TLS handshake timed out"
                              : "TLS handshake failed: " + secure->failure();
    co_return nullptr;
  }
  co_return std::unique_ptr<ByteStream>(std::move(secure));
}

}  // namespace sluice::balance
