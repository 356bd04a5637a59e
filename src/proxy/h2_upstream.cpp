#include "proxy/h2_upstream.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>

#include "core/event_loop.h"
#include "core/log.h"
#include "proxy/h2_upstream_connection.h"
#include "proxy/h2_upstream_pool.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

// Every worker: a server that will not speak HTTP/2 fails every connect.
LogThrottle no_h2_log;

ExchangeError connect_failure(ErrorKind kind, const char* reason) {
  return ExchangeError{kind, Side::server, Phase::connect, true, reason};
}

// RFC 9113 §8.2.2: TE may say "trailers", which gRPC servers look for; we
// relay trailers, so every request says it.
constexpr http::HeaderField kTeTrailers{"te", "trailers"};

}  // namespace

H2Upstream::H2Upstream(WorkerContext& ctx, EventLoop& loop, const Backend& backend,
                       CancelToken* cancel)
    : ctx_(ctx),
      loop_(loop),
      backend_(backend),
      cancel_(cancel),
      io_timeout_ms_(backend.idle_timeout_ms) {}

H2Upstream::~H2Upstream() {
  release();
}

// ---- connect

Task<bool> H2Upstream::connect(UpstreamConnector& connector,
                               const UpstreamConnector::ConnectOptions& options) {
  release();
  reused_ = false;
  DestinationId d = 0;
  if (!connector.destination(d)) {
    error_ = connect_failure(ErrorKind::closed, "cannot connect to the server");
    co_return false;
  }
  H2UpstreamPool& pool = ctx_.h2_pool;
  // A connection that names one client (a PROXY header), or one taken
  // after a failed try, is this exchange's alone.
  const bool shared = options.reuse.pooled;
  const H2UpstreamConnection* waited_on = nullptr;
  while (true) {
    std::shared_ptr<H2UpstreamConnection> c = shared ? pool.find(d) : nullptr;
    if (c && c->state() == H2UpstreamConnection::State::connecting) {
      if (waited_on == c.get()) {
        c.reset();  // it is slow to open: this exchange opens its own
      } else {
        // Another exchange is opening it: wait for the server's SETTINGS
        // rather than open another connection.
        waited_on = c.get();
        (void)co_await c->wait_open(backend_.connect_timeout_ms, cancel_);
        if (cancel_ != nullptr && cancel_->cancelled()) {
          error_ = ExchangeError{ErrorKind::closed, Side::client, Phase::connect, false,
                                 "the client left"};
          co_return false;
        }
        continue;
      }
    }
    if (!c && shared && pool.count(d) >= backend_.pool.max_h2_connections) {
      // Every connection is full and no other may be opened: the stream
      // waits in the least busy one (its codec holds it back) for a slot.
      c = pool.least_busy(d);
    }
    if (c) {
      conn_ = std::move(c);
      reused_ = conn_->exchanges() > 0;
      break;
    }
    http::H2ClientLimits limits;
    std::shared_ptr<H2UpstreamConnection> fresh =
        shared ? pool.create(d, limits, io_timeout_ms_, backend_.pool.idle_timeout_ms)
               : std::make_shared<H2UpstreamConnection>(loop_, pool, d, limits, io_timeout_ms_,
                                                        backend_.pool.idle_timeout_ms);
    UpstreamConnector::ConnectOptions own = options;
    own.reuse.pooled = false;
    std::unique_ptr<UpstreamConnection> uc = co_await connector.connect(own);
    if (!uc) {
      fresh->fail_connect("the connect failed");
      error_ = connector.connect_error();
      co_return false;
    }
    // RFC 9113 §3.2: over TLS, HTTP/2 is what ALPN agreed on, or nothing.
    if (backend_.tls && uc->alpn() != "h2") {
      fresh->fail_connect("the server did not agree to h2");
      if (const std::uint64_t n = no_h2_log.note(loop_.now_ms())) {
        spdlog::warn("backend '{}' server {}: the server did not agree to HTTP/2 by ALPN ({}){}",
                     backend_.name, connector.server()->address,
                     uc->alpn().empty() ? std::string("no protocol") : std::string(uc->alpn()),
                     n > 1 ? fmt::format("; {} such in the last second", n) : std::string());
      }
      error_ = connect_failure(ErrorKind::refused, "the server does not speak HTTP/2 (ALPN h2)");
      co_return false;
    }
    fresh->start(std::move(uc));
    conn_ = std::move(fresh);
    break;
  }
  stream_ = conn_->open_stream();
  if (stream_ == nullptr) {
    conn_.reset();
    error_ = connect_failure(ErrorKind::closed, "the server closed the connection");
    co_return false;
  }
  co_return true;
}

void H2Upstream::release() {
  if (stream_ != nullptr) {
    give_back_delivered();
    conn_->release(*stream_);  // may free the stream
    stream_ = nullptr;
  }
  conn_.reset();
  head_sent_ = false;
  submit_failed_ = false;
  send_cancelled_ = false;
}

// ---- send

bool H2Upstream::prepare(const http::OutgoingRequest& req) {
  request_ = &req;
  return true;
}

void H2Upstream::queue_head() {
  const http::OutgoingRequest& req = *request_;
  http::H2Request h;
  h.method = req.method;
  h.scheme = backend_.tls ? "https" : "http";
  h.authority = req.authority;
  h.path = req.target;
  if (!h.path.empty() && h.path.front() == '?') {
    // RFC 9113 §8.3.1: :path is origin-form, "/" before a bare query.
    path_.assign("/").append(req.target);
    h.path = path_;
  }
  h.fields = req.fields;
  http::HeaderField more[2];
  std::size_t n = 0;
  if (req.body == http::BodyKind::sized) {
    const auto r = std::to_chars(length_, length_ + sizeof length_, req.length);
    more[n++] = {"content-length",
                 std::string_view(length_, static_cast<std::size_t>(r.ptr - length_))};
  }
  more[n++] = kTeTrailers;
  h.more_fields = std::span<const http::HeaderField>(more, n);
  h.has_body = req.body != http::BodyKind::none;
  head_request_ = req.method == "HEAD";
  head_sent_ = true;
  submit_failed_ = stream_ == nullptr || !conn_->submit(*stream_, h);
}

Task<bool> H2Upstream::send_body(std::string_view data, bool end) {
  if (stream_ == nullptr || submit_failed_) co_return false;
  http::H2ClientStreamState& s = stream_->state;
  if (request_->body == http::BodyKind::none) co_return !s.closed || s.head_done;
  s.out = data;
  s.out_end = end;
  conn_->resume(*stream_);
  // Until the codec has taken the piece: the server's windows are our
  // back-pressure, bounded by timeouts.idle.
  while (!s.out.empty() || (end && !s.out_done)) {
    if (s.closed) co_return false;
    const Errc woke = co_await stream_->wake.wait(loop_, io_timeout_ms_, cancel_);
    if (woke == Errc::cancelled) {
      send_cancelled_ = true;
      co_return false;
    }
    if (woke == Errc::timeout) co_return false;
  }
  co_return true;
}

Task<bool> H2Upstream::send_trailers(std::span<const http::HeaderField> trailers) {
  if (stream_ == nullptr || submit_failed_) co_return false;
  http::H2ClientStreamState& s = stream_->state;
  s.out_trailers.clear();
  std::string name;
  for (const auto& f : trailers) {
    // RFC 9113 §8.2.1: lower case, as in any header block.
    name.assign(f.name);
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    s.out_trailers.add(name, f.value);
  }
  s.send_trailers = s.out_trailers.count() > 0;
  co_return co_await send_body({}, true);
}

// ---- the response

ExchangeError H2Upstream::stream_error(Phase phase) const {
  const http::H2ClientStreamState& s = stream_->state;
  if (s.not_processed) {
    // RFC 9113 §8.7: the server says it did not process the request, so
    // it is as if nothing was sent: any method may go again.
    return connect_failure(ErrorKind::refused,
                           conn_->goaway_received()
                               ? "the server went away (GOAWAY) before processing the request"
                           : s.error_code == http::h2_error::refused_stream
                               ? "the server refused the stream (REFUSED_STREAM)"
                               : "the connection closed before the request was sent");
  }
  if (s.error_code != http::h2_error::no_error && conn_->close_reason() == nullptr) {
    return ExchangeError{ErrorKind::closed, Side::server, phase, phase == Phase::headers,
                         "the server reset the stream"};
  }
  return ExchangeError{ErrorKind::closed, Side::server, phase, phase == Phase::headers,
                       phase == Phase::headers
                           ? "the server closed the connection without answering"
                           : "closed early"};
}

HeadRead H2Upstream::head_failed(ErrorKind kind, Phase phase, const char* reason, bool retryable) {
  HeadRead r;
  r.failed = true;
  r.error = ExchangeError{kind, Side::server, phase, retryable, reason};
  return r;
}

Task<HeadRead> H2Upstream::read_head(std::uint64_t deadline_ms, std::span<http::HeaderField> fields,
                                     http::Method /*request_method*/) {
  if (stream_ == nullptr || submit_failed_) {
    // Nothing left: the connection went away before the request did.
    co_return head_failed(ErrorKind::refused, Phase::connect,
                          "the server went away before the request", true);
  }
  http::H2ClientStreamState& s = stream_->state;
  while (!s.head_done || !s.interim.empty()) {
    if (!s.interim.empty()) {
      // An interim head goes on to the client (RFC 9110 §15.2), but a 100
      // Continue: the proxy answered the client's Expect itself.
      interim_ = std::move(s.interim.front());
      s.interim.erase(s.interim.begin());
      if (interim_.status == 100) continue;
      const auto got = interim_.fields.fields();
      if (got.size() > fields.size()) continue;  // too many fields to pass on: dropped
      std::copy(got.begin(), got.end(), fields.begin());
      head_ = http::ResponseHead{};
      head_.status = interim_.status;
      head_.fields = fields.first(got.size());
      head_.framing = http::Framing::none;
      HeadRead r;
      r.head = &head_;
      co_return r;
    }
    if (s.closed) {
      HeadRead r;
      r.failed = true;
      r.error = stream_error(Phase::headers);
      co_return r;
    }
    const std::uint64_t now = loop_.now_ms();
    const Errc woke =
        co_await stream_->wake.wait(loop_, deadline_ms > now ? deadline_ms - now : 1, cancel_);
    if (woke == Errc::cancelled) {
      HeadRead r;
      r.failed = true;
      r.error =
          ExchangeError{ErrorKind::closed, Side::client, Phase::headers, false, "the client left"};
      co_return r;
    }
    if (woke == Errc::timeout && !s.head_done) {
      co_return head_failed(ErrorKind::timeout, Phase::headers, "the server did not answer in time",
                            true);
    }
  }
  const auto got = s.fields.fields();
  if (s.too_large && s.has_trailers) {
    // The head fit; the trailers that came with the whole answer did not
    // (the mark is the stream's): see read_body.
    co_return head_failed(ErrorKind::malformed, Phase::headers, "response trailer fields too large",
                          false);
  }
  if (s.too_large || got.size() > fields.size()) {
    co_return head_failed(ErrorKind::too_large, Phase::headers, "response head too large", false);
  }
  std::copy(got.begin(), got.end(), fields.begin());
  head_ = http::ResponseHead{};
  head_.status = s.status;
  head_.fields = fields.first(got.size());
  // RFC 9113 §8.1: DATA frames carry the body and END_STREAM ends it; a
  // known length is kept. No body follows a HEAD, 1xx, 204 or 304
  // (RFC 9110 §6.4.1), nor a head that ended the stream.
  if (head_request_ || s.status == 204 || s.status == 304 || s.status < 200) {
    head_.framing = http::Framing::none;
  } else {
    // Decided by the head's own frame: the body and trailers may already
    // have come behind it.
    head_.framing = s.head_ended ? http::Framing::content_length : http::Framing::chunked;
    for (const auto& f : head_.fields) {
      if (f.name != "content-length") continue;
      std::uint64_t n = 0;
      const auto r = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
      if (r.ec == std::errc() && r.ptr == f.value.data() + f.value.size()) {
        head_.framing = http::Framing::content_length;
        head_.content_length = n;
      }
    }
  }
  HeadRead r;
  r.head = &head_;
  co_return r;
}

// The previous piece was taken: its bytes open the server's windows again.
void H2Upstream::give_back_delivered() {
  if (stream_ == nullptr || stream_->delivering.empty()) return;
  const std::size_t n = stream_->delivering.size();
  stream_->delivering.clear();
  conn_->consume(*stream_, n);
}

Task<BodyPiece> H2Upstream::read_body() {
  give_back_delivered();
  BodyPiece p;
  if (stream_ == nullptr) {
    p.failed = true;
    p.error = ExchangeError{ErrorKind::closed, Side::server, Phase::data, false, "closed early"};
    co_return p;
  }
  http::H2ClientStreamState& s = stream_->state;
  while (true) {
    // The codec stopped storing trailer fields past the limits: what it
    // kept is not what the server sent (a gRPC status may be what was
    // dropped), so the response fails as an HTTP/1 one with an oversized
    // trailer section does.
    if (s.has_trailers && s.too_large) {
      p.failed = true;
      p.error = ExchangeError{ErrorKind::malformed, Side::server, Phase::data, false,
                              "response trailer fields too large"};
      co_return p;
    }
    if (!s.body.empty()) {
      // The codec appends to state.body while the exchange uses what it
      // was given: hand over the bytes, keep a fresh buffer.
      std::swap(stream_->delivering, s.body);
      p.data = stream_->delivering;
      p.end = s.ended && s.body.empty();
      if (p.end && s.has_trailers) p.trailers = s.trailers.fields();
      co_return p;
    }
    if (s.ended || head_.framing == http::Framing::none) {
      p.end = true;
      // RFC 9113 §8.1: a trailing HEADERS frame (gRPC's grpc-status).
      if (s.has_trailers) p.trailers = s.trailers.fields();
      co_return p;
    }
    if (s.closed) {
      p.failed = true;
      p.error = stream_error(Phase::data);
      co_return p;
    }
    const Errc woke = co_await stream_->wake.wait(loop_, io_timeout_ms_, cancel_);
    if (woke == Errc::cancelled) {
      p.failed = true;
      p.error = ExchangeError{ErrorKind::closed, Side::client, Phase::data, false, "read failed"};
      co_return p;
    }
    if (woke == Errc::timeout && s.body.empty() && !s.ended && !s.closed) {
      p.failed = true;
      p.error = ExchangeError{ErrorKind::timeout, Side::server, Phase::data, false, "read failed"};
      co_return p;
    }
  }
}

bool H2Upstream::not_processed() const {
  return stream_ != nullptr && (submit_failed_ || stream_->state.not_processed);
}

bool H2Upstream::answer_started() const {
  if (stream_ == nullptr) return false;
  const http::H2ClientStreamState& s = stream_->state;
  return s.head_done || s.interim_heads > 0 || !s.body.empty();
}

}  // namespace sluice::proxy
