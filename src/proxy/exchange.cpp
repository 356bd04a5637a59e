#include "proxy/exchange.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cassert>

#include "core/buffer_pool.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "http/h1_encoder.h"
#include "http/serializer.h"
#include "http/token.h"
#include "http/trailer_fields.h"
#include "observe/request_record.h"
#include "observe/wall_clock.h"
#include "proxy/downstream.h"
#include "proxy/forwarded_response.h"
#include "proxy/reproxy.h"
#include "proxy/request_affinity.h"
#include "proxy/retry_policy.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"
#include "route/route_table.h"

namespace sluice::proxy {
namespace {

// The log's addition when a retry found every other server unusable.
constexpr const char* kNoServerLeft = "no other server is usable";

ExchangeError proxy_error(ErrorKind kind, Phase phase, const char* reason) {
  return ExchangeError{kind, Side::proxy, phase, false, reason};
}

}  // namespace

Exchange::Exchange(ExchangeInputs in, Downstream& downstream, const http::RequestHead& head,
                   std::string_view target)
    : in_(std::move(in)),
      ctx_(*in_.ctx),
      loop_(*in_.loop),
      route_(*in_.route),
      backend_(*in_.backend),
      listener_(*in_.listener),
      down_(downstream),
      client_head_(head),
      method_(head.method),
      method_text_(head.method_text),
      upgrade_(head.upgrade),
      connector_(ctx_, loop_, backend_, in_.cancel),
      upstream_(loop_, *in_.buffers, in_.bulk_buffers, backend_.idle_timeout_ms) {
  // RFC 9110 §9.2.2; a backend may also opt in to Idempotency-Key.
  idempotent_ = http::is_idempotent(method_) && !upgrade_;
  if (!idempotent_ && backend_.retries.idempotency_key) {
    for (const auto& f : head.fields) {
      if (http::iequals_literal<"idempotency-key">(f.name) && !f.value.empty()) idempotent_ = true;
    }
  }
  if (backend_.protocol != UpstreamProtocol::http1) {
    h2_ = std::make_unique<H2Upstream>(ctx_, loop_, backend_, in_.cancel);
  }
  retries_left_ = backend_.retries.attempts;
  client_addresses_.source = down_.client_address();
  // RFC 9112 §3.2: an HTTP/1.1 request carries Host. The parser's host is
  // the absolute-form target's authority when there was one (RFC 9112
  // §3.2.2), so the client's Host field is never copied as is; a 1.0
  // client may have sent none: the first server names the backend then.
  const std::string_view host = !route_.rewrite().host.empty() ? route_.rewrite().host
                                : !head.host.empty()           ? head.host
                                                               : backend_.servers.front().address;
  request_.emplace(head, ForwardedRequest::Inputs{
                             target, host, &listener_, &client_addresses_.source, down_.is_secure(),
                             down_.client_certificate_subject(), in_.edits, in_.record});
  if (backend_.balancer->algorithm() == balance::Algorithm::hash) {
    hash_key_ = balance_key(backend_, head, target, client_addresses_.source);
  }
  sticky_server_ = sticky_server(backend_, head);
  backend_.load->active.fetch_add(1, std::memory_order_relaxed);
  ++ctx_.backend_in_use;
}

Exchange::~Exchange() {
  --ctx_.backend_in_use;
  backend_.load->active.fetch_sub(1, std::memory_order_relaxed);
  if (counted_retry_) backend_.load->retrying.fetch_sub(1, std::memory_order_relaxed);
}

Task<ExchangeEnd> Exchange::run() {
  if (!codec_prepare(request_->request())) {
    co_return end(ExchangeError{ErrorKind::too_large, Side::proxy, Phase::request, false,
                                "request head too large to forward"});
  }
  if (h2_ && method_ == http::Method::CONNECT) {
    // RFC 9113 §8.5: a tunnel over one stream, which sluice does not open.
    co_return end(ExchangeError{ErrorKind::not_allowed, Side::proxy, Phase::request, false,
                                "CONNECT cannot go to an HTTP/2 backend"});
  }
  if (!connector_.pick(hash_key_, sticky_server_)) {
    co_return end(proxy_error(ErrorKind::no_server, Phase::connect, "no server available"));
  }
  while (true) {
    // admit: a slot on the chosen server (max_connections and its queue).
    // No co_await inside the condition (see docs/architecture.md).
    bool admitted = connector_.admitted();
    if (!admitted) {
      const std::uint64_t queued_us = timed() ? observe::monotonic_now_us() : 0;
      bool waited = false;
      admitted = co_await connector_.admit(&waited);
      if (waited && timed()) note_queue_wait(queued_us);
    }
    if (!admitted) {
      co_return end(
          proxy_error(ErrorKind::queue_full, Phase::queue,
                      "the server is at max_connections and the queue is full or timed out"));
    }
    // connect: a pooled or new connection to the chosen server.
    bool connected = false;
    connect_started_us_ = timed() ? observe::monotonic_now_us() : 0;
    if (h2_) {
      connected = co_await h2_->connect(connector_, connect_options());
    } else {
      conn_ = co_await connector_.connect(connect_options());
      connected = conn_ != nullptr;
    }
    if (connected) {
      on_connected();
    } else {
      if (in_.record != nullptr) record_server();
      const ExchangeError e = h2_ ? h2_->connect_error() : connector_.connect_error();
      if (e.side == Side::client || e.side == Side::local) co_return end(e);
      if (retry_after(e)) continue;
      co_return end(e);
    }
    // send: the head, and the body as the client sends it.
    codec_queue_head();
    Sent sent;
    if (request_->request().body == http::BodyKind::none) {
      sent = co_await codec_send_body({}, true) ? Sent::ok : Sent::server_failed;
    } else {
      sent = co_await send_body();
    }
    if (sent == Sent::client_failed) co_return end(send_error_);
    send_failed_ = sent == Sent::server_failed;
    // Even when sending failed, the server may have answered early (a 413
    // before the body ended): read what it said.
    const std::uint64_t sent_ms = loop_.now_ms();
    const std::uint64_t head_deadline = response_deadline();
    HeadRead h = co_await codec_read_head(head_deadline, response_field_span());
    if (is_interim(h)) h = co_await relay_interim(h, head_deadline);
    if (!h.failed) {
      if (timed()) {
        in_.record->first_byte_us =
            static_cast<std::int64_t>(observe::monotonic_now_us() - in_.record->start_us);
      }
      backend_.balancer->record_success(connector_.server_index());
      backend_.balancer->state(connector_.server_index())
          .record_latency(static_cast<std::uint32_t>((loop_.now_ms() - sent_ms) * 1000));
      co_return co_await relay(*h.head);
    }
    if (h.error.side == Side::client || h.error.kind == ErrorKind::malformed ||
        h.error.kind == ErrorKind::too_large) {
      co_return end(h.error);
    }
    if (retry_after(h.error)) continue;
    co_return end(h.error);
  }
}

// ---- connect

UpstreamConnector::ConnectOptions Exchange::connect_options() {
  const bool sends_proxy_header = connector_.server()->send_proxy != ProxyHeaderVersion::none;
  if (sends_proxy_header && client_addresses_.destination.family() == 0) {
    client_addresses_.destination = SocketAddress::local_of(in_.client_fd);
  }
  UpstreamConnector::ConnectOptions options;
  options.reuse = choose_reuse(backend_.pool.reuse, idempotent_ && body_held_, !allow_pooled_,
                               sends_proxy_header);
  options.client = &client_addresses_;
  return options;
}

void Exchange::on_connected() {
  ++ctx_.counters.requests;
  const bool reused = connection_reused();
  if (reused) ++ctx_.counters.reused;
  if (in_.record != nullptr) record_try(reused);
  if (!h2_) upstream_.attach(*conn_);
}

// ---- send

// The head is queued: it leaves with the first piece.
Task<Exchange::Sent> Exchange::send_body() {
  if (body_started_) {
    // A resend: the body we kept, and its trailer fields.
    bool resent = false;
    if (request_trailers_.empty()) {
      resent = co_await codec_send_body(held_body_, true);
    } else {
      resent = co_await send_body_end_with_trailers(held_body_);
    }
    co_return resent ? Sent::ok : Sent::server_failed;
  }
  body_started_ = true;
  while (true) {
    const BodyPiece piece = co_await down_.read_body();
    if (piece.failed) {
      send_error_ = piece.error;
      co_return Sent::client_failed;
    }
    hold_body(piece.data);
    if (piece.end) keep_request_trailers(piece.trailers);
    bool sent = false;
    if (piece.end && !request_trailers_.empty()) {
      sent = co_await send_body_end_with_trailers(piece.data);
    } else {
      sent = co_await codec_send_body(piece.data, piece.end);
    }
    if (!sent) {
      if (codec_send_cancelled()) {
        send_error_ = ExchangeError{ErrorKind::closed, Side::client, Phase::request, false,
                                    "the client left"};
        co_return Sent::client_failed;
      }
      co_return Sent::server_failed;
    }
    if (piece.end) co_return Sent::ok;
  }
}

// A request's trailer fields are held for a resend, not a reason to give
// one up (design problem 5 resends an idempotent request whose body is in
// hand; its trailers are part of it). They are views into the
// downstream's storage, which stays valid until its next read_body(), and
// the exchange never reads again after the body's end; so holding them
// copies nothing, and they need not count against retries.max_body (the
// client's codec bounds them; HTTP/1: the listener's max_header_count and
// max_header_size). An
// idempotent request with trailers is then resent exactly as it was
// first sent, as one without is.
void Exchange::keep_request_trailers(std::span<const http::HeaderField> trailers) {
  for (const http::HeaderField& f : trailers) {
    if (request_->forwards_trailer(f.name)) {
      request_trailers_.push_back(f);
    } else {
      spdlog::debug("listener '{}': dropped request trailer field '{}'", listener_.name, f.name);
    }
  }
}

// The body's last data (sent on its own when there is some), then the
// trailer section that ends it.
Task<bool> Exchange::send_body_end_with_trailers(std::string_view data) {
  if (!data.empty()) {
    const bool sent = co_await codec_send_body(data, false);
    if (!sent) co_return false;
  }
  co_return co_await codec_send_trailers(request_trailers_);
}

void Exchange::hold_body(std::string_view bytes) {
  if (!body_held_) return;
  // Nothing is ever resent when retries are off: no copy on the hot path.
  if (backend_.retries.attempts == 0) {
    body_held_ = false;
    return;
  }
  if (held_body_.size() + bytes.size() > backend_.retries.max_body) {
    body_held_ = false;
    std::string().swap(held_body_);
    return;
  }
  held_body_.append(bytes);
}

// ---- the response head

std::uint64_t Exchange::response_deadline() const {
  const std::uint64_t per_try = backend_.retries.per_try_timeout_ms;
  return loop_.now_ms() + (per_try > 0 ? per_try : backend_.response_timeout_ms);
}

std::span<http::HeaderField> Exchange::response_field_span() {
  return std::span<http::HeaderField>(response_fields_.data(), kMaxResponseFields);
}

bool Exchange::is_interim(const HeadRead& h) {
  return !h.failed && h.head->status < 200 && h.head->status != 101;
}

// 1xx responses (100 Continue, 103 Early Hints) go on to the client as they
// come (the downstream drops them for an HTTP/1.0 client, RFC 9110 §15.2),
// until the final head. A coroutine only for a response that has them: the
// usual one is read in run() without a frame of its own.
Task<HeadRead> Exchange::relay_interim(HeadRead h, std::uint64_t deadline) {
  while (is_interim(h)) {
    interim_relayed_ = true;
    const http::OutgoingResponse res = forwarded_response(
        *h.head, response_fields_, ForwardedResponseInputs{method_, false, {}}, cookie_);
    const bool relayed = co_await down_.send_interim(res);
    if (!relayed) {
      HeadRead gone;
      gone.failed = true;
      gone.error =
          ExchangeError{ErrorKind::closed, Side::client, Phase::headers, false, "the client left"};
      co_return gone;
    }
    h = co_await codec_read_head(deadline, response_field_span());
  }
  co_return h;
}

// ---- relay

// Not a coroutine, as the steps below: a response whose body came whole
// with its head and that the client takes at once (most keep-alive
// responses) is relayed without a frame of its own. From the first step
// that must wait, a coroutine goes on (the *_waiting and *_after_send ones).
Task<ExchangeEnd> Exchange::relay(const http::ResponseHead& head) {
  const bool tunnel =
      head.status == 101 || (method_ == http::Method::CONNECT && head.status / 100 == 2);
  if (tunnel || (route_.reproxy && !in_.reproxied)) return relay_unusual(head);
  return relay_response(head);
}

// A tunnel, or a response that may ask for another to be served instead.
Task<ExchangeEnd> Exchange::relay_unusual(const http::ResponseHead& head) {
  if (head.status == 101) {
    // RFC 9110 §7.8: only a request that asked may switch protocols.
    if (!upgrade_) {
      co_return end(ExchangeError{ErrorKind::malformed, Side::server, Phase::headers, false,
                                  "the server switched protocols unasked"});
    }
    co_return co_await relay_tunnel(head, true);
  }
  // RFC 9110 §9.3.6: a 2xx to CONNECT makes the connection a tunnel.
  if (method_ == http::Method::CONNECT && head.status / 100 == 2) {
    co_return co_await relay_tunnel(head, false);
  }
  if (const auto* plan = reproxy_plan_for(*ctx_.snapshot, route_.file_index, route_.name)) {
    ReproxyAsk ask = reproxy_asked(**plan, head.fields);
    if (ask.kind != ReproxyAsk::Kind::none) co_return co_await relay_reproxied(head, *plan, ask);
  }
  co_return co_await relay_response(head);
}

Task<ExchangeEnd> Exchange::relay_response(const http::ResponseHead& head) {
  std::string_view sticky;
  std::string sticky_pair;
  if (!backend_.sticky_cookie.empty() && connector_.server_index() != sticky_server_) {
    sticky_pair.assign(backend_.sticky_cookie).append("=").append(connector_.server()->sticky_id);
    sticky = sticky_pair;
  }
  // Its views are into members (response_fields_, cookie_), not sticky_pair.
  const http::OutgoingResponse res = forwarded_response(
      head, response_fields_, ForwardedResponseInputs{method_, false, sticky}, cookie_);
  // Whatever else a server says to CONNECT, its connection may already be
  // half a tunnel: it is never pooled.
  const bool poolable = method_ != http::Method::CONNECT;
  if (res.body == http::BodyKind::none) {
    // RFC 9112 §6.3: responses to HEAD, and 1xx/204/304 responses, end
    // with their head whatever their fields say.
    Task<BodyPiece> read = codec_read_body();
    if (!read.await_ready()) return relay_bodiless_waiting(std::move(read), res, poolable);
    (void)read.await_resume();
    return send_bodiless(res, poolable);
  }
  // The head is only queued: until it leaves with the first piece, a
  // failure can still be answered with a status.
  if (down_.queue_head(res) == HeadSent::too_large) {
    return Task<ExchangeEnd>::ready(response_head_too_large());
  }
  return relay_body(poolable);
}

ExchangeEnd Exchange::response_head_too_large() {
  return end(ExchangeError{ErrorKind::too_large, Side::server, Phase::headers, false,
                           "response head too large to forward"});
}

Task<ExchangeEnd> Exchange::relay_bodiless_waiting(Task<BodyPiece> read, http::OutgoingResponse res,
                                                   bool poolable) {
  (void)co_await read;
  co_return co_await send_bodiless(res, poolable);
}

Task<ExchangeEnd> Exchange::send_bodiless(const http::OutgoingResponse& res, bool poolable) {
  finish_connection(poolable && codec_reusable());
  if (down_.queue_head(res) == HeadSent::too_large) {
    return Task<ExchangeEnd>::ready(response_head_too_large());
  }
  response_started_ = true;
  Task<bool> send = down_.send_body({}, true);
  if (!send.await_ready()) return relay_body_after_send(std::move(send), true, poolable);
  return Task<ExchangeEnd>::ready(*after_piece_sent(send.await_resume(), true));
}

Task<ExchangeEnd> Exchange::relay_body(bool poolable) {
  while (true) {
    Task<BodyPiece> read = codec_read_body();
    if (!read.await_ready()) return relay_body_waiting(std::move(read), poolable);
    const BodyPiece piece = read.await_resume();
    if (piece.failed) return Task<ExchangeEnd>::ready(end(piece.error));
    Task<bool> send = send_piece(piece, poolable);
    if (!send.await_ready()) return relay_body_after_send(std::move(send), piece.end, poolable);
    if (auto done = after_piece_sent(send.await_resume(), piece.end)) {
      return Task<ExchangeEnd>::ready(*done);
    }
  }
}

Task<ExchangeEnd> Exchange::relay_body_waiting(Task<BodyPiece> read, bool poolable) {
  while (true) {
    const BodyPiece piece = co_await read;
    if (piece.failed) co_return end(piece.error);
    const bool sent = co_await send_piece(piece, poolable);
    if (auto done = after_piece_sent(sent, piece.end)) co_return *done;
    read = codec_read_body();
  }
}

Task<ExchangeEnd> Exchange::relay_body_after_send(Task<bool> send, bool last, bool poolable) {
  const bool sent = co_await send;
  if (auto done = after_piece_sent(sent, last)) co_return *done;
  co_return co_await relay_body(poolable);
}

Task<bool> Exchange::send_piece(const BodyPiece& piece, bool poolable) {
  // At a clean end the connection goes back to the pool before the last
  // bytes reach the client, so the next request of any client on this
  // worker can use it.
  if (piece.end) finish_connection(poolable && codec_reusable());
  response_started_ = true;
  if (piece.end && !piece.trailers.empty()) {
    return relay_end_with_trailers(piece.data, piece.trailers);
  }
  down_.more_follows(piece.more_waiting);
  return down_.send_body(piece.data, piece.end);
}

// The exchange's end once a piece was sent (or not); none while more follows.
std::optional<ExchangeEnd> Exchange::after_piece_sent(bool sent, bool last) {
  if (!sent) return ExchangeEnd{ExchangeEnd::Then::close, 0, "", "CD"};
  if (last) return ExchangeEnd{};
  return std::nullopt;
}

// The response body's last data, then the trailer fields that may travel
// on (RFC 9110 §6.5.1); when none may, the body's plain end. `data` and
// `trailers` live in the upstream codec, which the exchange owns, and
// nothing reads from it meanwhile (the connection may be back in the pool:
// it has a codec of its own for its next exchange).
Task<bool> Exchange::relay_end_with_trailers(std::string_view data,
                                             std::span<const http::HeaderField> trailers) {
  std::vector<http::HeaderField> kept;
  kept.reserve(trailers.size());
  for (const http::HeaderField& f : trailers) {
    if (http::allowed_in_trailers(f.name)) {
      kept.push_back(f);
    } else {
      spdlog::debug("backend '{}': dropped response trailer field '{}'", backend_.name, f.name);
    }
  }
  if (kept.empty()) co_return co_await down_.send_body(data, true);
  if (!data.empty()) {
    const bool sent = co_await down_.send_body(data, false);
    if (!sent) co_return false;
  }
  co_return co_await down_.send_trailers(kept);
}

// RFC 9110 §7.8 (after 101) and §9.3.6 (after a 2xx to CONNECT): both
// connections carry another protocol; bytes are copied both ways until
// both sides are done. A CONNECT's 2xx has no content and no framing
// fields; none are sent.
Task<ExchangeEnd> Exchange::relay_tunnel(const http::ResponseHead& head, bool switching) {
  http::OutgoingResponse res = forwarded_response(
      head, response_fields_, ForwardedResponseInputs{method_, switching, {}}, cookie_);
  res.body = http::BodyKind::none;
  const HeadSent hs = down_.queue_head(res);
  if (hs == HeadSent::too_large) {
    co_return end(ExchangeError{ErrorKind::too_large, Side::server, Phase::headers, false,
                                "response head too large to forward"});
  }
  response_started_ = true;
  co_await down_.tunnel(conn_->stream(), upstream_.bytes_after_head(), upstream_.buffer(),
                        backend_.idle_timeout_ms);
  retire_connection();
  co_return ExchangeEnd{ExchangeEnd::Then::close_now, 0, "", kCompleted};
}

// ---- failed tries

// After a failed try: true when the request goes again, to another server.
bool Exchange::retry_after(const ExchangeError& failed) {
  ExchangeError e = failed;
  // RFC 9113 §8.7: a stream the server did not process (the codec reports
  // it as refused at connect) may go again whatever the method, but only
  // with its whole body in hand; a body partly streamed and not kept
  // makes it an ordinary unanswered request.
  if (e.phase == Phase::connect && body_started_ && !(body_held_ && down_.body_read())) {
    e.phase = Phase::headers;
    e.kind = ErrorKind::closed;
  }
  TryFacts facts;
  facts.error = e;
  facts.retries_left = retries_left_;
  facts.reused_connection = e.phase != Phase::connect && connection_reused();
  facts.answer_started = codec_answer_started() || interim_relayed_;
  facts.not_processed = h2_ && e.phase == Phase::connect && h2_->not_processed();
  facts.resendable_request = resendable_request();
  if (counts_against_server(facts)) {
    backend_.balancer->record_failure(connector_.server_index(), loop_.now_ms());
  }
  const RetryVerdict verdict = decide_retry(facts);
  if (verdict == RetryVerdict::give_up) return false;
  if (verdict == RetryVerdict::retry && !within_retry_budget()) return false;
  // The pooled connection was the likely culprit.
  if (e.phase != Phase::connect) allow_pooled_ = false;
  if (retry_elsewhere(e.reason, facts.not_processed)) {
    if (in_.record != nullptr) record_retry(e);
    return true;
  }
  no_server_left_ = true;
  return false;
}

// Moves a retry to the next usable server. False when none is usable (all
// down, ejected, drained or the one just tried): the request ends there.
bool Exchange::retry_elsewhere(const char* why, bool routine) {
  --retries_left_;
  ++ctx_.counters.retries;
  // A request an HTTP/2 server did not process is routine (a GOAWAY at
  // its max requests per connection sends back every stream in flight).
  spdlog::log(routine ? spdlog::level::info : spdlog::level::warn,
              "listener '{}' route '{}' backend '{}' server {}: {}; retrying {} ({} {} left)",
              listener_.name, route_.name, backend_.name, server_name(), why, method_text_,
              retries_left_, retries_left_ == 1 ? "retry" : "retries");
  retire_connection();
  return connector_.pick(hash_key_, sticky_server_);
}

bool Exchange::resendable_request() const {
  return idempotent_ && body_held_ && down_.body_read();
}

// Retries in flight stay below budget_percent of the backend's requests in
// flight (at least 3 may always run), so failures cannot multiply load.
bool Exchange::within_retry_budget() {
  if (counted_retry_) return true;  // this request already holds its share
  const int active = backend_.load->active.load(std::memory_order_relaxed);
  const int allowed = std::max(3, active * backend_.retries.budget_percent / 100);
  if (backend_.load->retrying.load(std::memory_order_relaxed) >= allowed) return false;
  backend_.load->retrying.fetch_add(1, std::memory_order_relaxed);
  counted_retry_ = true;
  return true;
}

// ---- the end

void Exchange::finish_connection(bool reusable) {
  connector_.finish(std::move(conn_), reusable);
  conn_.reset();
}

void Exchange::retire_connection() {
  conn_.reset();
  if (h2_) h2_->release();
}

std::string_view Exchange::server_name() const {
  const BackendServer* s = connector_.last_server();
  return s != nullptr ? std::string_view(s->address) : std::string_view("-");
}

// The one place an error becomes what the client hears, a log line and a
// termination code.
// Time spent waiting for a slot on a server at max_connections (all tries).
void Exchange::note_queue_wait(std::uint64_t queued_us) {
  observe::RequestRecord& r = *in_.record;
  const auto waited = static_cast<std::int64_t>(observe::monotonic_now_us() - queued_us);
  r.queue_us = r.queue_us < 0 ? waited : r.queue_us + waited;
  record_server();
}

bool Exchange::timed() const {
  return in_.record != nullptr && in_.record->timed;
}

void Exchange::record_server() {
  const BackendServer* s = connector_.server();
  if (s == nullptr) return;
  in_.record->server = s->address;
  in_.record->server_slot = s->metrics_slot;
}

// The try now under way: its server, and how its connection came.
void Exchange::record_try(bool reused) {
  record_server();
  observe::RequestRecord& r = *in_.record;
  r.reused_connection = reused;
  if (!r.timed) return;
  r.connect_us =
      reused ? -1 : static_cast<std::int64_t>(observe::monotonic_now_us() - connect_started_us_);
}

void Exchange::record_retry(const ExchangeError& failed) {
  observe::RequestRecord& r = *in_.record;
  ++r.retries;
  observe::FailurePhase phase = observe::FailurePhase::await;
  if (failed.phase == Phase::connect || failed.phase == Phase::queue) {
    phase = observe::FailurePhase::connect;
  } else if (send_failed_) {
    phase = observe::FailurePhase::send;
  }
  ++r.failures[static_cast<std::size_t>(phase)];
}

ExchangeEnd Exchange::end(const ExchangeError& e) {
  ExchangeError error = e;
  if (no_server_left_ && error.detail == nullptr) error.detail = kNoServerLeft;
  // A resend was decided but no other server was usable: the client gets
  // the status (docs/config.md), not the close a client could retry on.
  const ErrorReply reply =
      reply_for(error, response_started_, down_.earlier_requests() && !no_server_left_);
  ExchangeEnd out;
  out.code = termination_code(error);
  if (error.side == Side::server && error.phase == Phase::headers &&
      error.kind == ErrorKind::closed) {
    ++ctx_.counters.unanswered;
  }
  log_error(error, reply.status);
  retire_connection();
  if (reply.status != 0) {
    out.then = ExchangeEnd::Then::close;
    out.status = reply.status;
    out.reason = error.reason;
  } else {
    out.then = reply.abort ? ExchangeEnd::Then::close_now : ExchangeEnd::Then::close;
  }
  return out;
}

void Exchange::log_error(const ExchangeError& e, int status) const {
  if (e.side == Side::client && e.kind == ErrorKind::closed) return;  // the client left
  if (status != 0) {
    spdlog::warn("listener '{}' route '{}' backend '{}' server {}: {} {} ({}{}{})", listener_.name,
                 route_.name, backend_.name, server_name(), status, http::reason_phrase(status),
                 e.reason, e.detail != nullptr ? "; " : "", e.detail != nullptr ? e.detail : "");
  } else if (e.phase == Phase::data) {
    spdlog::warn(
        "listener '{}' route '{}' backend '{}' server {}: response cut off ({}); closing the "
        "client connection",
        listener_.name, route_.name, backend_.name, server_name(), e.reason);
  } else {
    // RFC 9112 §9.3.1: a client whose connection carried earlier requests
    // can tell this case from a response and apply its own retry rules, so
    // it gets the same close we got.
    spdlog::warn(
        "listener '{}' route '{}' backend '{}' server {}: the server closed the connection "
        "without answering a {} it cannot be sent again; closing the client connection",
        listener_.name, route_.name, backend_.name, server_name(), method_text_);
  }
}

}  // namespace sluice::proxy
