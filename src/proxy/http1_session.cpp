#include "proxy/http1_session.h"
#include "core/uninitialized_array.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/address.h"
#include "core/buffer_pool.h"
#include "core/log.h"
#include "core/socket.h"
#include "core/worker.h"
#include "http/body_decoder.h"
#include "http/h1_encoder.h"
#include "http/head_writer.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "proxy/accept_pipeline.h"
#include "proxy/body_pace.h"
#include "proxy/exchange.h"
#include "proxy/exchange_error.h"
#include "proxy/filtered_downstream.h"
#include "proxy/forwarded_response.h"
#include "proxy/h2_session.h"
#include "proxy/http1_downstream.h"
#include "proxy/middleware_chain.h"
#include "proxy/request_finish.h"
#include "proxy/request_identity.h"
#include "proxy/request_routing.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"
#include "route/path_normalizer.h"
#include "route/route_table.h"
#include "tls/tls_stream.h"

namespace sluice::proxy {
namespace {

// Parser field storage lives in the per-request frame, never in the idle
// connection's, so an idle keep-alive connection costs a few hundred bytes.
constexpr std::size_t kMaxFieldsCap = 256;
// Lingering close (RFC 9112 §9.6): after the last response, read and drop
// what the client still sends for a while, so our close does not turn into
// a reset that destroys the response in flight.
constexpr std::uint64_t kLingerMs = 2'000;
constexpr std::size_t kLingerBytes = 256 * 1024;

enum class Next {
  idle,       // the buffer is empty; wait for the next request
  close,      // close the connection
  slow_head,  // a head's first bytes came and the rest is late: wait without a buffer
  h2,         // the client sent the HTTP/2 preface: an h2 session takes the connection over
};

// How much of the HTTP/2 connection preface (RFC 9113 §3.4) the bytes so
// far are: none of it, a start of it, or all of it.
enum class Preface { no, partial, whole };
Preface match_preface(std::string_view bytes) {
  const std::size_t n = std::min(bytes.size(), kH2Preface.size());
  if (bytes.substr(0, n) != kH2Preface.substr(0, n)) return Preface::no;
  return n == kH2Preface.size() ? Preface::whole : Preface::partial;
}

// A head that arrives in pieces this small waits for the rest in a string
// of its own, not in a pooled buffer: a crowd of slow clients (slowloris)
// then holds a few hundred bytes each instead of a buffer and a frame.
constexpr std::size_t kSlowHeadBytes = 512;

// The largest head of a response of our own (a `respond` with many fields).
constexpr std::size_t kMaxLocalHeadBytes = 64 * 1024;

LogThrottle header_timeout_log;  // all workers: a header timeout is rare, a crowd of them is not

// RFC 9110 §15.5.6: a 405 lists the methods the target supports.
constexpr http::HeaderField kAllowWithoutConnect{"Allow",
                                                 "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"};

bool has_body_bytes(const http::RequestHead& head) {
  return head.framing == http::Framing::chunked ||
         (head.framing == http::Framing::content_length && head.content_length > 0);
}

// The state of one client connection that must outlive a single request.
// Kept small on purpose: it is what an idle keep-alive connection costs.
class Http1Session {
 public:
  Http1Session(ConnectionScope& scope, int fd, CompactAddress peer, WorkerContext& ctx)
      : scope_(scope), sock_(scope.worker().loop(), fd), peer_(peer), ctx_(ctx) {
    sock_.bind_cancel(&scope.cancel_token());
    sock_.note_fresh_accept();
  }
  // The connection's bytes: the socket, or TLS over it after the handshake.
  ByteStream& stream() { return *stream_; }

  // Waits for the next request without holding a buffer. Idle, the
  // connection pins no configuration: the current one decides.
  ByteStream::ReadinessOp wait_for_request(bool first, const ListenerSettings& ls) {
    // A TLS read never proves the socket drained (OpenSSL reads ahead), so
    // readiness may still say "bytes": ask now, or the wait would end at
    // once and the next head would be awaited with a buffer held, under the
    // header timeout instead of the idle one. A plain socket that read
    // short knows already and makes no system call here.
    (void)stream_->nothing_to_read();
    stream_->shed_buffers();  // after the look: it may have taken a buffer
    return stream_->wait_readable(first ? ls.header_timeout_ms : ls.idle_timeout_ms);
  }
  void release_buffer_if_empty() {
    if (used_ == 0) buf_.reset();
  }
  bool has_buffered_bytes() const { return used_ > 0; }
  // proxy_protocol: the header before the first request names the client.
  // The accept stages before the first request (accept_pipeline.h).
  Task<bool> accept() {
    if (!pin()) co_return false;
    buf_ = scope_.worker().buffers().acquire();
    ClientAddresses addresses{socket_peer(), {}};
    std::unique_ptr<tls::TlsStream> secure;
    const bool accepted = co_await run_accept_stages(sock_, *listener_, buf_, used_, addresses,
                                                     &scope_.cancel_token(), secure);
    if (!accepted) co_return false;
    // Kept only when a header named the client or TLS runs: the others pay nothing.
    if (listener_->proxy_protocol) extras().client_address = addresses.source;
    if (secure) {
      secure_ = std::make_unique<Secure>(std::move(secure));
      if (!listener_->client_subject_field.empty()) {
        secure_->client_subject = secure_->stream->peer_subject();
      }
      stream_ = secure_->stream.get();
      speaks_h2_ = listener_->h2 && secure_->stream->alpn() == "h2";
    }
    unpin();
    co_return true;
  }
  // ALPN chose h2 in the handshake.
  bool speaks_h2() const { return speaks_h2_; }
  // Hands the connection to an HTTP/2 session (ALPN h2, or the preface on
  // a plain listener) with what was read so far, and serves it to the end.
  Task<void> serve_h2() {
    std::string received(buf_ ? std::string_view(buf_.data(), used_) : std::string_view());
    buf_.reset();
    used_ = 0;
    const SocketAddress client = client_address();
    // No conditional expression in a co_await statement (GCC 12).
    std::string_view subject;
    if (secure_) subject = secure_->client_subject;
    co_await proxy::serve_h2(scope_, *stream_, ctx_, client, subject, std::move(received));
    stream_->close();
  }
  // The client: from the PROXY header when there was one.
  SocketAddress client_address() const {
    return extras_ && extras_->client_address ? *extras_->client_address : socket_peer();
  }
  // The socket's peer: as the accept named it (no system call per request).
  SocketAddress socket_peer() const {
    return peer_.empty() ? SocketAddress::peer_of(stream_->fd()) : peer_.expand();
  }
  ConnectionScope& scope() { return scope_; }
  Task<Next> serve_buffered();
  // After serve_buffered(): the listener's settings go until the next request.
  void end_burst() { unpin(); }
  Task<bool> wait_for_rest_of_head();
  Task<Next> serve_pinned();

 private:
  // What forward() needs of the request beyond its head.
  struct Routed {
    std::shared_ptr<const route::Route> route;
    std::shared_ptr<const Backend> backend;
    std::shared_ptr<const MiddlewareChain> middlewares;  // null: none
    const RequestTarget& target;
    const route::Captures& captures;
  };
  Task<Next> forward(Routed& routed, const http::RequestHead& head, std::size_t head_bytes,
                     std::optional<SocketAddress>& peer, std::uint64_t request_started_ms);
  // Runs the route's middlewares. Verdict::answer: one answered, and its
  // answer was sent; `goes_on` says whether the connection carries on.
  Task<middleware::Verdict> pass_middlewares(MiddlewarePass& pass, const http::RequestHead& head,
                                             const RequestTarget& t,
                                             const route::Captures& captures,
                                             const route::Route& route, const SocketAddress& client,
                                             std::size_t consumed, const FilteredDownstream* ahead,
                                             bool& goes_on);
  std::uint64_t head_deadline(std::uint64_t request_started_ms) const;
  void keep_partial_head(std::uint64_t request_started_ms);
  Task<bool> answer_redirect(const route::Route& route, const http::RequestHead& head,
                             const route::RequestView& view, const route::Captures& captures,
                             std::size_t consumed, ResponseFilters filters);
  Task<bool> answer_respond(const route::Route& route, const http::RequestHead& head,
                            std::size_t consumed, std::uint64_t request_started_ms,
                            ResponseFilters filters);
  Task<Next> redirect(const route::Route& route, const http::RequestHead& head,
                      const route::RequestView& view, const route::Captures& captures,
                      ResponseFilters filters);
  Task<Next> respond(const route::Route& route, const http::RequestHead& head, bool keep_alive,
                     ResponseFilters filters);
  // Reads and drops the request body. False if the connection must close.
  Task<bool> discard_body(const http::RequestHead& head, std::size_t& consumed,
                          std::uint64_t request_started_ms);
  Task<bool> read_more_body(std::size_t head_end, BodyPace& pace);
  void splice_out_body(std::size_t head_end, std::size_t body_end);
  Task<void> refuse_slow_head();
  // A request refused before any server was involved: the client's fault
  // (refuse) or our rules' (refuse_by_rule), mapped to its status by
  // reply_for (exchange_error.h) like every other error.
  Task<void> refuse(ErrorKind kind, const char* reason, bool log = true) {
    return refuse_with(ExchangeError{kind, Side::client, Phase::request, false, reason}, log, {});
  }
  Task<void> refuse_by_rule(ErrorKind kind, const char* reason,
                            std::span<const http::HeaderField> extra_fields = {}) {
    return refuse_with(ExchangeError{kind, Side::proxy, Phase::request, false, reason}, true,
                       extra_fields);
  }
  // What the record learns once the head is parsed. The client's address
  // costs a system call: looked up only for what logs it.
  void record_request(const http::RequestHead& head, std::size_t head_bytes,
                      std::optional<SocketAddress>& peer) {
    observe::RequestRecord& r = *record_;
    record_head(r, head, head.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1");
    r.bytes_in = head_bytes;
    if (ctx_.access_log != nullptr || ctx_.tracer != nullptr || identity_needs_client(*listener_)) {
      if (!peer) peer = client_address();
      r.client = &*peer;
    }
    assign_identity(ctx_, *listener_, head, r.client, r);
    if (secure_) {
      r.tls_version = secure_->stream->version();
      r.sni = secure_->stream->server_name();
    }
  }

  Task<void> refuse_with(const ExchangeError& e, bool log,
                         std::span<const http::HeaderField> extra_fields) {
    if (record_ != nullptr) record_->termination = termination_code(e);
    return send_error(reply_for(e, false, false).status, e.reason, log, extra_fields);
  }
  Task<void> send_error(int status, const char* reason, bool log = true,
                        std::span<const http::HeaderField> extra_fields = {});
  // A response of our own (respond, redirect, errors): its head with a
  // Date field, and its body unless the request was a HEAD.
  // `filters`: the route's middlewares' (response fields only).
  Task<bool> send_local(const http::OutgoingResponse& res, std::string_view body, bool keep_alive,
                        int client_minor, std::uint64_t timeout_ms = 0,
                        ResponseFilters filters = {});
  Task<void> linger_and_close();
  // RFC 9112 §9.6: a lingering close is needed only while the client may
  // still be sending. After a request read to its end from a client that
  // asked to close, with nothing behind it in the buffer or the socket,
  // close at once as nginx does: no shutdown, no drain, no wait.
  bool client_is_done(const http::RequestHead& head, bool body_read, std::size_t request_end) {
    return !head.keep_alive && body_read && request_end >= used_ && stream_->nothing_to_read();
  }
  void keep_leftover(std::size_t consumed);

  EventLoop& loop() { return scope_.worker().loop(); }

  // While requests are served: the listener's settings they use, held so
  // that a reload cannot free them under them; released when the
  // connection idles. False: the listener was removed by a reload.
  bool pin() {
    listener_ = ctx_.snapshot->in_slot(scope_.listener_index());
    return listener_ != nullptr;
  }
  void unpin() { listener_.reset(); }

  ConnectionScope& scope_;
  Socket sock_;
  CompactAddress peer_;          // the client as accept(2) named it; empty for other families
  ByteStream* stream_ = &sock_;  // the socket, or the TLS stream in secure_
  // The request now recorded for metrics and logs (request_finish.h);
  // null between requests and when nothing observes them.
  observe::RequestRecord* record_ = nullptr;
  // A TLS connection's stream and what its handshake said; apart from
  // extras_ so that TLS connections pay for nothing else.
  struct Secure {
    explicit Secure(std::unique_ptr<tls::TlsStream> s) : stream(std::move(s)) {}
    std::unique_ptr<tls::TlsStream> stream;
    std::string client_subject;  // the verified client certificate's subject
  };
  std::unique_ptr<Secure> secure_;
  WorkerContext& ctx_;
  // Pinned while requests are served (see pin()); null while idle.
  std::shared_ptr<const ListenerSettings> listener_;
  Buffer buf_;
  std::size_t used_ = 0;           // bytes of buf_ holding unprocessed input
  bool earlier_requests_ = false;  // this connection has carried a request already
  bool answering_head_ = false;    // the request being answered is a HEAD
  bool speaks_h2_ = false;         // ALPN agreed on h2
  // What few connections need, behind one pointer, so the others pay 8
  // bytes: the client address a PROXY header gave, and a slow head's first
  // bytes while it waits for the rest.
  struct Extras {
    std::optional<SocketAddress> client_address;
    std::string partial_head;
    std::uint64_t partial_started_ms = 0;
    bool has_partial_head = false;
  };
  std::unique_ptr<Extras> extras_;
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  bool has_partial_head() const { return extras_ && extras_->has_partial_head; }
  // The partial head was taken back into the buffer: its memory goes.
  void drop_partial_head() {
    if (!extras_) return;
    if (!extras_->client_address) {
      extras_.reset();
      return;
    }
    std::string().swap(extras_->partial_head);
    extras_->has_partial_head = false;
  }
};

// Reads and answers requests while bytes are buffered; returns `idle` once
// the buffer is empty and the connection stays open. Then end_burst().
// Not a coroutine: serve_pinned's frame is the burst's only one.
Task<Next> Http1Session::serve_buffered() {
  if (!pin()) return Task<Next>::ready(Next::close);  // its listener was removed: drain
  return serve_pinned();
}

Task<Next> Http1Session::serve_pinned() {
  UninitializedArray<http::HeaderField, kMaxFieldsCap> fields;
  const http::ParserLimits limits{listener_->max_request_line, listener_->max_head_bytes,
                                  std::min(listener_->max_fields, kMaxFieldsCap)};
  if (!buf_) buf_ = scope_.worker().buffers().acquire();
  const std::size_t capacity = std::min(buf_.capacity(), listener_->max_head_bytes + 1);
  std::optional<SocketAddress> peer;  // looked up once per burst of requests
  RequestTarget t;
  while (true) {
    http::RequestParser parser(limits,
                               std::span<http::HeaderField>(fields.data(), limits.max_fields));
    // A head resumed after a slow start keeps its first byte's time.
    const std::uint64_t request_started_ms =
        has_partial_head() ? extras_->partial_started_ms : loop().now_ms();
    drop_partial_head();
    answering_head_ = false;
    RequestRecording recording(ctx_, &record_);
    if (record_ != nullptr) record_listener(*record_, *listener_);
    const std::uint64_t deadline = head_deadline(request_started_ms);
    http::ParseState state = http::ParseState::need_more;
    bool read_some = false;  // a read of this head came back short of its end
    // A plain listener with HTTP/2 tells h2c (prior knowledge) from
    // HTTP/1 by the first bytes of the connection.
    bool maybe_h2c = !earlier_requests_ && listener_->h2 && !stream_->is_secure();
    while (true) {
      if (maybe_h2c) {
        const Preface p = match_preface(std::string_view(buf_.data(), used_));
        if (p == Preface::whole) co_return Next::h2;
        maybe_h2c = p == Preface::partial;
      }
      // Nothing buffered (the usual start of a request on a kept-alive
      // connection): nothing to parse before the first read.
      if (!maybe_h2c && used_ > 0) {
        state = parser.parse(std::string_view(buf_.data(), used_));
        if (state != http::ParseState::need_more) break;
      }
      if (used_ >= capacity) {
        co_await refuse(ErrorKind::too_large, "request header section too large");
        co_return Next::close;
      }
      if (read_some && used_ < kSlowHeadBytes) {
        keep_partial_head(request_started_ms);
        co_return Next::slow_head;
      }
      const std::uint64_t now = loop().now_ms();
      auto r = co_await stream_->read(std::span<char>(buf_.data() + used_, capacity - used_),
                                      deadline > now ? deadline - now : 1);
      if (!r) {
        if (r.code() == Errc::timeout) co_await refuse_slow_head();
        co_return Next::close;
      }
      used_ += *r;
      read_some = true;
    }
    if (state == http::ParseState::error) {
      const auto e = parser.error();
      co_await refuse(request_error_kind(e.status), e.reason);
      co_return Next::close;
    }
    const http::RequestHead& head = parser.head();
    answering_head_ = head.method == http::Method::HEAD;
    std::size_t consumed = parser.head_bytes();
    if (record_ != nullptr) record_request(head, consumed, peer);
    if (head.framing == http::Framing::content_length && listener_->max_body_bytes &&
        head.content_length > *listener_->max_body_bytes) {
      co_await refuse(ErrorKind::body_too_large, "request body larger than the listener allows");
      co_return Next::close;
    }
    // RFC 3986 §6: the path is matched, and forwarded, in its normal form.
    if (const route::PathError e = resolve_target(head, *listener_, t);
        e != route::PathError::none) {
      co_await refuse(ErrorKind::malformed, route::describe(e));
      co_return Next::close;
    }
    route::RequestView& view = t.view;
    if (!ctx_.snapshot->in_slot(scope_.listener_index())) {
      co_await refuse_by_rule(ErrorKind::no_server, "this listener was removed by a reload");
      co_return Next::close;
    }
    route::Captures captures;
    std::shared_ptr<const Backend> backend;
    std::shared_ptr<const route::Route> route =
        find_route(*ctx_.snapshot, scope_.listener_index(), head, view, captures, backend);
    // RFC 9110 §9.3.6: CONNECT turns the backend connection into a tunnel.
    // Only a route that says so may do that; anything else would answer it
    // as an ordinary request (a client then tunnels into our reply).
    if (head.method == http::Method::CONNECT &&
        (route == nullptr || route->action != route::ActionKind::backend ||
         !route->allow_connect)) {
      co_await refuse_by_rule(ErrorKind::not_allowed, "CONNECT is not allowed here",
                              std::span<const http::HeaderField>(&kAllowWithoutConnect, 1));
      co_return Next::close;
    }
    if (route == nullptr) {
      co_await send_error(404, "no route matches this request");
      co_return Next::close;
    }
    if (record_ != nullptr) record_route(*record_, *route, backend.get());
    std::shared_ptr<const MiddlewareChain> chain = chain_for(*ctx_.snapshot, *listener_, *route);
    if (route->action == route::ActionKind::backend) {
      if (!apply_rewrite(*route, captures, t)) {
        co_await refuse(ErrorKind::malformed,
                        "the route's rewrite gives an invalid request target");
        co_return Next::close;
      }
      // A named argument: GCC 12 destroys a braced temporary passed to a
      // coroutine twice (docs/architecture.md).
      Routed routed{std::move(route), std::move(backend), std::move(chain), t, captures};
      const Next next = co_await forward(routed, head, consumed, peer, request_started_ms);
      if (next == Next::close) co_return Next::close;
      if (used_ == 0) co_return Next::idle;
      continue;
    }
    // No co_await inside a conditional expression (docs/architecture.md).
    bool goes_on = false;
    std::optional<MiddlewarePass> pass;
    if (chain) {
      if (!peer) peer = client_address();
      pass.emplace(std::move(chain));
      const middleware::Verdict v = co_await pass_middlewares(*pass, head, t, captures, *route,
                                                              *peer, consumed, nullptr, goes_on);
      if (v == middleware::Verdict::answer) {
        if (!goes_on) co_return Next::close;
        if (used_ == 0) co_return Next::idle;
        continue;
      }
    }
    const ResponseFilters filters = pass ? ResponseFilters(pass->filters()) : ResponseFilters();
    if (route->action == route::ActionKind::redirect) {
      goes_on = co_await answer_redirect(*route, head, view, captures, consumed, filters);
    } else {
      goes_on = co_await answer_respond(*route, head, consumed, request_started_ms, filters);
    }
    if (!goes_on) co_return Next::close;
    if (used_ == 0) co_return Next::idle;
  }
}

// When the head must have arrived: timeouts.header, or timeouts.request if
// that ends first.
std::uint64_t Http1Session::head_deadline(std::uint64_t request_started_ms) const {
  std::uint64_t deadline = request_started_ms + listener_->header_timeout_ms;
  if (listener_->request_timeout_ms > 0) {
    deadline = std::min(deadline, request_started_ms + listener_->request_timeout_ms);
  }
  return deadline;
}

// A head arriving in small pieces: its first bytes wait in a string of their
// own while the buffer and the request's frame go back (slowloris).
void Http1Session::keep_partial_head(std::uint64_t request_started_ms) {
  Extras& e = extras();
  e.partial_head.assign(buf_.data(), used_);
  e.partial_started_ms = request_started_ms;
  e.has_partial_head = true;
  used_ = 0;
}

// A redirect route's answer. False: the connection closed.
Task<bool> Http1Session::answer_redirect(const route::Route& route, const http::RequestHead& head,
                                         const route::RequestView& view,
                                         const route::Captures& captures, std::size_t consumed,
                                         ResponseFilters filters) {
  const Next sent = co_await redirect(route, head, view, captures, filters);
  if (sent == Next::close) co_return false;
  if (!head.keep_alive || scope_.worker().stopping() || has_body_bytes(head)) {
    // A body that was not read leaves the connection unable to carry
    // another request.
    co_await linger_and_close();
    co_return false;
  }
  keep_leftover(consumed);
  co_return true;
}

// A respond route's answer, after the request body was read and dropped.
// False: the connection closed.
Task<bool> Http1Session::answer_respond(const route::Route& route, const http::RequestHead& head,
                                        std::size_t consumed, std::uint64_t request_started_ms,
                                        ResponseFilters filters) {
  // RFC 9110 §10.1.1: a client waiting on "100-continue" gets the interim
  // response before we read the body it is holding back (HTTP/1.1 only).
  const bool has_body = has_body_bytes(head);
  if (head.expect_continue && head.version_minor == 1 && has_body && consumed == used_) {
    if (!co_await stream_->write(http::kContinue)) co_return false;
  }
  if (has_body) {
    const bool discarded = co_await discard_body(head, consumed, request_started_ms);
    if (!discarded) co_return false;
  }
  // Decided after the body: a stop may have begun while it arrived.
  const bool keep_alive = head.keep_alive && !scope_.worker().stopping();
  // The head's views point into buf_: answer before the buffer moves.
  earlier_requests_ = true;
  const Next answered = co_await respond(route, head, keep_alive, filters);
  if (answered == Next::close || !keep_alive) {
    if (answered != Next::close && client_is_done(head, true, consumed)) {
      stream_->close();
    } else {
      co_await linger_and_close();
    }
    co_return false;
  }
  keep_leftover(consumed);
  co_return true;
}

// After Next::slow_head: waits, holding only the head's first bytes, until
// more arrive (true: they are in the buffer again, parse on) or the header
// deadline passes (408) or the client leaves (false).
Task<bool> Http1Session::wait_for_rest_of_head() {
  buf_.reset();
  if (!pin()) co_return false;
  const std::uint64_t deadline = extras_->partial_started_ms + listener_->header_timeout_ms;
  const std::uint64_t now = loop().now_ms();
  auto ready = co_await stream_->wait_readable(deadline > now ? deadline - now : 1);
  if (!ready) {
    if (ready.code() == Errc::timeout) co_await refuse_slow_head();
    unpin();
    co_return false;
  }
  unpin();
  buf_ = scope_.worker().buffers().acquire();
  std::memcpy(buf_.data(), extras_->partial_head.data(), extras_->partial_head.size());
  used_ = extras_->partial_head.size();
  co_return true;
}

// 408 for a head that did not arrive within timeouts.header. Slow clients
// come in crowds (slowloris): logged once a second, with a count.
Task<void> Http1Session::refuse_slow_head() {
  const std::uint64_t n = header_timeout_log.note(loop().now_ms());
  if (n > 0) {
    spdlog::warn(
        "listener '{}' client {}: 408 Request Timeout (request header not received in "
        "time){}",
        listener_->name, client_address().to_string(),
        n > 1 ? fmt::format("; {} such in the last second", n) : std::string());
  }
  co_await refuse(ErrorKind::timeout, "request header not received in time", false);
}

void Http1Session::keep_leftover(std::size_t consumed) {
  // Pipelined bytes move to the front for the next parse.
  if (consumed < used_) std::memmove(buf_.data(), buf_.data() + consumed, used_ - consumed);
  used_ -= consumed;
}

Task<bool> Http1Session::discard_body(const http::RequestHead& head, std::size_t& consumed,
                                      std::uint64_t request_started_ms) {
  // The head's views must stay valid until the response is written, so the
  // body is read into the free part of the buffer behind the head.
  std::size_t body_start = consumed;
  BodyPace pace(*listener_, request_started_ms);
  http::BodyDecoder body(head.framing, head.content_length);
  while (true) {
    const http::BodyDecoder::Result d =
        body.decode(std::span<char>(buf_.data() + body_start, used_ - body_start));
    if (d.error) {
      spdlog::debug("listener '{}': chunked body: {}", listener_->name, d.reason);
      co_await refuse(d.too_large ? ErrorKind::too_large : ErrorKind::malformed,
                      d.too_large ? d.reason : "malformed chunked request body");
      co_return false;
    }
    if (listener_->max_body_bytes && body.body_bytes() > *listener_->max_body_bytes) {
      co_await refuse(ErrorKind::body_too_large, "request body larger than the listener allows");
      co_return false;
    }
    body_start += d.consumed;
    if (d.done) break;
    // Everything buffered was decoded: read more behind the head.
    body_start = consumed;
    const bool more = co_await read_more_body(consumed, pace);
    if (!more) co_return false;
  }
  splice_out_body(consumed, body_start);
  co_return true;
}

Task<bool> Http1Session::read_more_body(std::size_t head_end, BodyPace& pace) {
  // Body bytes already handled are dropped; the buffer is sized so that
  // at least 4 KiB stay free behind the largest allowed head.
  used_ = head_end;
  while (true) {
    const std::uint64_t started = loop().now_ms();
    auto r = co_await stream_->read(std::span<char>(buf_.data() + used_, buf_.capacity() - used_),
                                    pace.read_timeout(started));
    if (!r && r.code() != Errc::timeout) co_return false;
    const std::size_t n = r ? *r : 0;
    if (const char* slow = pace.after_read(started, loop().refresh_now(), n)) {
      co_await refuse(ErrorKind::too_slow, slow);
      co_return false;
    }
    used_ += n;
    if (n > 0) co_return true;
  }
}

void Http1Session::splice_out_body(std::size_t head_end, std::size_t body_end) {
  // Bytes after the body (a pipelined request) move to follow the head.
  std::memmove(buf_.data() + head_end, buf_.data() + body_end, used_ - body_end);
  used_ -= body_end - head_end;
}

Task<Next> Http1Session::redirect(const route::Route& route, const http::RequestHead& head,
                                  const route::RequestView& view, const route::Captures& captures,
                                  ResponseFilters filters) {
  const std::string location = route::redirect_location(route.redirect(), head.host, view.path,
                                                        view.query, captures, stream_->is_secure());
  const bool keep_alive = head.keep_alive && !scope_.worker().stopping() && !has_body_bytes(head);
  const http::HeaderField fields[] = {{"Location", location}};
  http::OutgoingResponse res;
  res.status = route.redirect().status;
  res.fields = fields;
  res.body = http::BodyKind::sized;
  res.length = 0;
  const bool sent = co_await send_local(res, {}, keep_alive, head.version_minor, 0, filters);
  co_return sent&& keep_alive ? Next::idle : Next::close;
}

Task<middleware::Verdict> Http1Session::pass_middlewares(
    MiddlewarePass& pass, const http::RequestHead& head, const RequestTarget& t,
    const route::Captures& captures, const route::Route& route, const SocketAddress& client,
    std::size_t consumed, const FilteredDownstream* ahead, bool& goes_on) {
  MiddlewareRequest mr;
  describe_request(head, t, captures, route, client, stream_->is_secure(), mr);
  if (record_ != nullptr) mr.request.request_id = record_->request_id;
  describe_body(ahead, pass.chain().wants_body, !has_body_bytes(head), mr.request);
  mr.request.now_ms = loop().now_ms();
  const middleware::Context mc{&loop(), &scope_.cancel_token(), ctx_.index};
  const middleware::Verdict v = co_await pass.run(mc, mr.request);
  if (v == middleware::Verdict::next) co_return v;
  const middleware::Answer& a = pass.answer();
  log_middleware_answer(listener_->name, route.name, pass, client);
  std::vector<http::HeaderField> fields;
  const http::OutgoingResponse res = answer_head(a, fields);
  // A body the client sent is not read: the connection cannot carry
  // another request after it.
  const bool keep_alive = head.keep_alive && !scope_.worker().stopping() && !has_body_bytes(head);
  earlier_requests_ = true;
  const bool sent = co_await send_local(res, a.body, keep_alive, head.version_minor);
  goes_on = sent && keep_alive;
  if (!goes_on) {
    co_await linger_and_close();
  } else {
    keep_leftover(consumed);
  }
  co_return v;
}

Task<Next> Http1Session::forward(Routed& routed, const http::RequestHead& head,
                                 std::size_t head_bytes, std::optional<SocketAddress>& peer,
                                 std::uint64_t request_started_ms) {
  if (!peer) peer = client_address();
  const std::uint64_t write_timeout_ms = routed.backend->idle_timeout_ms;
  Http1Downstream down(
      Http1Downstream::Connection{
          scope_, *stream_, buf_, used_, head_bytes, *listener_, *peer, earlier_requests_,
          request_started_ms,
          secure_ ? std::string_view(secure_->client_subject) : std::string_view()},
      head, write_timeout_ms);
  std::optional<MiddlewarePass> pass;
  std::optional<FilteredDownstream> filtered;
  if (routed.middlewares) {
    pass.emplace(std::move(routed.middlewares));
    const std::size_t wanted = pass->chain().wants_body;
    if (wanted > 0 && has_body_bytes(head)) {
      filtered.emplace(down);
      co_await filtered->read_ahead(wanted);
    }
    bool goes_on = false;
    const middleware::Verdict v =
        co_await pass_middlewares(*pass, head, routed.target, routed.captures, *routed.route, *peer,
                                  head_bytes, filtered ? &*filtered : nullptr, goes_on);
    if (v == middleware::Verdict::answer) co_return goes_on ? Next::idle : Next::close;
    if (!pass->filters().empty() || pass->edits().max_body_bytes > 0) {
      if (!filtered) filtered.emplace(down);
      filtered->set_filters(pass->filters(), pass->edits().max_body_bytes);
    }
  }
  down.set_record(record_);
  ExchangeInputs in;
  in.ctx = &ctx_;
  in.loop = &loop();
  in.buffers = &scope_.worker().buffers();
  in.bulk_buffers = &scope_.worker().bulk_buffers();
  in.cancel = &scope_.cancel_token();
  in.record = record_;
  in.listener = listener_.get();
  in.route = std::move(routed.route);
  in.backend = std::move(routed.backend);
  in.client_fd = stream_->fd();
  if (pass) in.edits = &pass->edits();
  Downstream& client_side = filtered ? static_cast<Downstream&>(*filtered) : down;
  Exchange exchange(std::move(in), client_side, head, routed.target.target);
  const ExchangeEnd end = co_await exchange.run();
  earlier_requests_ = true;
  if (record_ != nullptr) {
    record_->termination = end.code;
    if (end.status == 0) stamp_end(*record_);
  }
  if (end.status != 0) {
    co_await send_error(end.status, end.reason, false);
    co_return Next::close;
  }
  switch (end.then) {
    case ExchangeEnd::Then::go_on:
      if (down.keep_alive()) {
        keep_leftover(down.consumed_end());
        co_return Next::idle;
      }
      break;
    case ExchangeEnd::Then::close_now:
      // The response was cut off: closing without a lingering read tells
      // the client at once.
      down.reset();
      co_return Next::close;
    case ExchangeEnd::Then::close:
      break;
  }
  if (client_is_done(head, down.body_read(), down.consumed_end())) {
    stream_->close();
  } else {
    co_await linger_and_close();
  }
  co_return Next::close;
}

Task<Next> Http1Session::respond(const route::Route& route, const http::RequestHead& head,
                                 bool keep_alive, ResponseFilters filters) {
  const route::PreparedResponse& prepared = route.respond();
  std::array<http::HeaderField, route::PreparedResponse::kMaxFields> few;
  std::vector<http::HeaderField> many;  // only for a response with more fields
  std::span<http::HeaderField> fields(few);
  if (prepared.fields.size() > few.size()) {
    many.resize(prepared.fields.size());
    fields = many;
  }
  const std::size_t n = prepared.fields_into(fields);
  http::OutgoingResponse res;
  res.status = prepared.status;
  res.fields = std::span<const http::HeaderField>(fields.data(), n);
  if (prepared.has_content) {
    res.body = http::BodyKind::sized;
    res.length = prepared.body.size();
  }
  const bool sent =
      co_await send_local(res, prepared.body, keep_alive, head.version_minor, 0, filters);
  co_return sent ? Next::idle : Next::close;
}

Task<bool> Http1Session::send_local(const http::OutgoingResponse& res, std::string_view body,
                                    bool keep_alive, int client_minor, std::uint64_t timeout_ms,
                                    ResponseFilters filters) {
  char date[http::kDateFieldBytes];
  const std::string_view date_field(date, http::write_date_field(date));
  const http::H1Persistence persistence{client_minor, keep_alive,
                                        listener_->keep_alive_header
                                            ? std::string_view(listener_->keep_alive_fields)
                                            : std::string_view()};
  const http::H1Framing framing = http::choose_framing(res.body, client_minor);
  http::OutgoingResponse out = res;
  middleware::ResponseHead filtered;
  if (!filters.empty()) {
    filter_local_head(filters, res.status, res.body != http::BodyKind::none, res.fields, filtered);
    out.fields = filtered.fields;
  }
  std::array<http::HeaderField, 2> added;
  out.listener_fields =
      listener_response_fields(*listener_, stream_->is_secure(), record_, out.fields, added);
  std::array<char, 2048> fixed;
  http::HeadWriter w(fixed);
  std::string large;  // a configured response with many or long fields
  if (!http::encode_response_head(w, out, framing, persistence, date_field)) {
    large.resize(kMaxLocalHeadBytes);
    w = http::HeadWriter(std::span<char>(large.data(), large.size()));
    if (!http::encode_response_head(w, out, framing, persistence, date_field)) co_return false;
  }
  // RFC 9110 §9.3.2: an answer to HEAD has the fields of the answer to
  // GET, Content-Length included, and no content: a client reads none, and
  // would take the text for the start of the next response.
  if (answering_head_ || res.body == http::BodyKind::none) body = {};
  if (record_ != nullptr) {
    record_->status = res.status;
    // An answer of our own: a refusal stated its code already.
    if (record_->termination == kCompleted) record_->termination = kAnsweredLocally;
  }
  // Head and body: one write (one send when small, core/socket.cpp).
  const bool sent = static_cast<bool>(co_await stream_->write(w.text(), body, timeout_ms));
  if (record_ != nullptr) {
    if (sent) record_->bytes_out += w.text().size() + body.size();
    stamp_end(*record_);
  }
  co_return sent;
}

Task<void> Http1Session::send_error(int status, const char* reason, bool log,
                                    std::span<const http::HeaderField> extra_fields) {
  if (log)
    spdlog::warn("listener '{}' client {}: {} {} ({})", listener_->name,
                 client_address().to_string(), status, http::reason_phrase(status), reason);
  std::array<http::HeaderField, 4> fields;
  std::size_t n = 0;
  fields[n++] = {"Content-Type", "text/plain"};
  for (const auto& f : extra_fields) {
    if (n < fields.size()) fields[n++] = f;
  }
  // The reason, as the body's one line.
  std::array<char, 256> body;
  const std::size_t reason_len = std::min(std::strlen(reason), body.size() - 1);
  std::memcpy(body.data(), reason, reason_len);
  body[reason_len] = '\n';
  http::OutgoingResponse res;
  res.status = status;
  res.fields = std::span<const http::HeaderField>(fields.data(), n);
  res.body = http::BodyKind::sized;
  res.length = reason_len + 1;
  // An error answer leaves at once or not at all (2 s), HTTP/1.1 framing
  // whatever the client spoke: it ends with our close anyway.
  (void)co_await send_local(res, std::string_view(body.data(), reason_len + 1), false, 1, 2'000);
  co_await linger_and_close();
}

Task<void> Http1Session::linger_and_close() {
  if (stream_->fd() < 0) co_return;
  stream_->shutdown_write();
  if (!buf_) buf_ = scope_.worker().buffers().acquire();
  const std::uint64_t deadline = loop().now_ms() + kLingerMs;
  std::size_t dropped = 0;
  while (dropped < kLingerBytes) {
    const std::uint64_t now = loop().now_ms();
    if (now >= deadline) break;
    auto r = co_await stream_->read(std::span<char>(buf_.data(), buf_.capacity()), deadline - now);
    if (!r) break;
    dropped += *r;
  }
  stream_->close();
}

}  // namespace

// The connection's own coroutine: its frame holds the session for the whole
// connection, so everything in it counts for every idle connection.
Task<void> serve_http_client(Worker& worker, std::size_t listener_index, ListenerCap* cap, int fd,
                             CompactAddress peer, WorkerContext& ctx) {
  ConnectionScope scope(worker, listener_index, cap);
  Http1Session session(scope, fd, peer, ctx);
  bool first = true;
  const ListenerSettings* listener = ctx.snapshot->in_slot(scope.listener_index()).get();
  if (listener == nullptr) co_return;  // removed by a reload just after the accept
  // The accept stages (a coroutine) only where there is one to run.
  if (listener->proxy_protocol || listener->tls) {
    const bool accepted = co_await session.accept();
    if (!accepted) co_return;
    if (session.speaks_h2()) {
      co_await session.serve_h2();
      co_return;
    }
  }
  while (true) {
    if (!session.has_buffered_bytes()) {
      session.release_buffer_if_empty();
      // A listener removed by a reload drains: its connections close when
      // they go idle.
      listener = ctx.snapshot->in_slot(scope.listener_index()).get();
      if (listener == nullptr) co_return;
      scope.set_idle(!first);
      // A bool, not the Result: what lives across the wait costs every idle connection.
      const bool readable = (co_await session.wait_for_request(first, *listener)).ok();
      scope.set_idle(false);
      if (!readable) co_return;  // idle timeout, stop, or the client left: close quietly
    }
    first = false;
    const Next next = co_await session.serve_buffered();
    session.end_burst();
    if (next == Next::close) co_return;
    if (next == Next::slow_head) {
      const bool rest_came = co_await session.wait_for_rest_of_head();
      if (!rest_came) co_return;
    }
    if (next == Next::h2) {
      co_await session.serve_h2();
      co_return;
    }
  }
}

}  // namespace sluice::proxy
