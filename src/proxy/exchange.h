// One request and its response, between a downstream (the client's side:
// an HTTP/1 connection, later an HTTP/2 stream) and a server of the route's
// backend, in named phases:
//
//   admit    a slot on the chosen server (max_connections, its queue)
//   connect  a pooled or new upstream connection (upstream_connector.h)
//   send     the request head and body (upstream_codec.h)
//   await    the response head; 1xx go on to the client
//   relay    the response head and body to the client, or a tunnel
//
// A failed try goes back to admit on another server when retry_policy.h
// says so. However it ends, the exchange returns one ExchangeEnd, and an
// error is mapped once (exchange_error.h) to a status, a log line and a
// termination code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/task.h"
#include "core/uninitialized_array.h"
#include "http/message.h"
#include "proxy/exchange_error.h"
#include "proxy/forwarded_request.h"
#include "proxy/h2_upstream.h"
#include "proxy/http1_upstream.h"
#include "proxy/upstream_connector.h"

namespace sluice {
class BufferPool;
class CancelToken;
class EventLoop;
namespace route {
struct Route;
}
namespace middleware {
struct RequestEdits;
}
namespace observe {
struct RequestRecord;
}
}  // namespace sluice

namespace sluice::proxy {

class Downstream;
struct Backend;
struct ReproxyAsk;
struct ReproxyPlan;
struct ReproxyPrimary;
struct ListenerSettings;
struct WorkerContext;

// How an exchange ended, for the client's session.
struct ExchangeEnd {
  enum class Then : std::uint8_t {
    go_on,      // the response was sent: the downstream knows whether to keep the connection
    close,      // close the client connection (after a lingering close)
    close_now,  // close at once: a cut-off response, an unanswered request, a finished tunnel
  };
  Then then = Then::go_on;
  // Nonzero: nothing reached the client; answer with this status and
  // `reason` (already logged), then close.
  int status = 0;
  const char* reason = "";
  std::string_view code = kCompleted;  // the termination code
};

struct ExchangeInputs {
  WorkerContext* ctx = nullptr;
  EventLoop* loop = nullptr;
  BufferPool* buffers = nullptr;
  BufferPool* bulk_buffers = nullptr;  // null: bodies move through `buffers` only
  CancelToken* cancel = nullptr;
  const ListenerSettings* listener = nullptr;
  // The route and backend the exchange pins until it ends (a tunnel
  // included), and nothing else of the configuration.
  std::shared_ptr<const route::Route> route;
  std::shared_ptr<const Backend> backend;
  // The client's connection: where it reached us is looked up (a system
  // call) only for a server that asks for a PROXY header.
  int client_fd = -1;
  // What the route's middlewares change in the forwarded request; null:
  // none. Outlives the exchange.
  const middleware::RequestEdits* edits = nullptr;
  // The target of an X-Accel-Redirect: its response is relayed as it is
  // (reproxy.h: one redirect at most).
  bool reproxied = false;
  // What the request did, for metrics and logs: the exchange fills its
  // part (server, timings, retries, termination). Null: not recorded.
  observe::RequestRecord* record = nullptr;
};

class Exchange {
 public:
  // `head` (views into the client's buffer) and `target` stay valid until
  // the exchange ends: the downstream reads the body behind the head.
  Exchange(ExchangeInputs in, Downstream& downstream, const http::RequestHead& head,
           std::string_view target);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  Task<ExchangeEnd> run();

 private:
  // The phases.
  UpstreamConnector::ConnectOptions connect_options();
  void on_connected();
  void record_server();
  // The record wants durations (request_record.h: `timed`).
  bool timed() const;
  void note_queue_wait(std::uint64_t queued_us);
  void record_try(bool reused);
  void record_retry(const ExchangeError& failed);
  enum class Sent : std::uint8_t { ok, server_failed, client_failed };
  Task<Sent> send_body();
  void keep_request_trailers(std::span<const http::HeaderField> trailers);
  Task<bool> send_body_end_with_trailers(std::string_view data);
  // When the response head must have come: now plus the per-try timeout, or
  // the response timeout.
  std::uint64_t response_deadline() const;
  std::span<http::HeaderField> response_field_span();
  static bool is_interim(const HeadRead& h);
  Task<HeadRead> relay_interim(HeadRead h, std::uint64_t deadline);
  Task<ExchangeEnd> relay(const http::ResponseHead& head);
  Task<ExchangeEnd> relay_unusual(const http::ResponseHead& head);
  Task<ExchangeEnd> relay_response(const http::ResponseHead& head);
  ExchangeEnd response_head_too_large();
  Task<ExchangeEnd> relay_bodiless_waiting(Task<BodyPiece> read, http::OutgoingResponse res,
                                           bool poolable);
  Task<ExchangeEnd> send_bodiless(const http::OutgoingResponse& res, bool poolable);
  Task<ExchangeEnd> relay_body(bool poolable);
  Task<ExchangeEnd> relay_body_waiting(Task<BodyPiece> read, bool poolable);
  Task<ExchangeEnd> relay_body_after_send(Task<bool> send, bool last, bool poolable);
  Task<bool> send_piece(const BodyPiece& piece, bool poolable);
  static std::optional<ExchangeEnd> after_piece_sent(bool sent, bool last);
  Task<bool> relay_end_with_trailers(std::string_view data,
                                     std::span<const http::HeaderField> trailers);
  Task<ExchangeEnd> relay_tunnel(const http::ResponseHead& head, bool switching);
  // Reproxy (reproxy_exchange.cpp): the response asked for something
  // else to be served in its place.
  Task<ExchangeEnd> relay_reproxied(const http::ResponseHead& head,
                                    std::shared_ptr<const ReproxyPlan> plan, ReproxyAsk& ask);
  Task<ExchangeEnd> reproxy_urls(const ReproxyPlan& plan, const ReproxyAsk& ask,
                                 const ReproxyPrimary& primary);
  Task<ExchangeEnd> reproxy_accel(const ReproxyAsk& ask);
  Task<ExchangeEnd> reproxy_file(const ReproxyPlan& plan, const ReproxyAsk& ask,
                                 const ReproxyPrimary& primary);
  Task<ExchangeEnd> answer_reproxy_failure(int status, const char* reason);

  // The server's codec: HTTP/1 held by value and called directly (no
  // allocation, no virtual call on the HTTP/1 path); HTTP/2 made only for
  // a backend whose servers speak it.
  bool codec_prepare(const http::OutgoingRequest& r) {
    return h2_ ? h2_->prepare(r) : upstream_.prepare(r);
  }
  void codec_queue_head() { h2_ ? h2_->queue_head() : upstream_.queue_head(); }
  Task<bool> codec_send_body(std::string_view data, bool end) {
    return h2_ ? h2_->send_body(data, end) : upstream_.send_body(data, end);
  }
  Task<bool> codec_send_trailers(std::span<const http::HeaderField> trailers) {
    return h2_ ? h2_->send_trailers(trailers) : upstream_.send_trailers(trailers);
  }
  bool codec_send_cancelled() const {
    return h2_ ? h2_->send_cancelled() : upstream_.send_cancelled();
  }
  Task<HeadRead> codec_read_head(std::uint64_t deadline_ms, std::span<http::HeaderField> fields) {
    return h2_ ? h2_->read_head(deadline_ms, fields, method_)
               : upstream_.read_head(deadline_ms, fields, method_);
  }
  Task<BodyPiece> codec_read_body() { return h2_ ? h2_->read_body() : upstream_.read_body(); }
  bool codec_answer_started() const {
    return h2_ ? h2_->answer_started() : upstream_.answer_started();
  }
  bool codec_reusable() const { return h2_ ? h2_->reusable() : upstream_.reusable(); }
  bool connection_reused() const { return h2_ ? h2_->reused() : connector_.reused(); }

  // Failed tries.
  bool retry_after(const ExchangeError& e);
  bool retry_elsewhere(const char* why, bool routine = false);
  bool within_retry_budget();
  bool resendable_request() const;
  void hold_body(std::string_view bytes);

  void finish_connection(bool reusable);
  void retire_connection();
  ExchangeEnd end(const ExchangeError& e);
  void log_error(const ExchangeError& e, int status) const;
  std::string_view server_name() const;

  ExchangeInputs in_;
  WorkerContext& ctx_;
  EventLoop& loop_;
  const route::Route& route_;
  const Backend& backend_;
  const ListenerSettings& listener_;
  Downstream& down_;
  const http::RequestHead& client_head_;  // the client's request (reproxy)

  // Facts of the request, copied: its head's bytes are reused for the body.
  http::Method method_;
  std::string method_text_;  // for logs (short: no allocation)
  bool upgrade_;
  bool idempotent_ = false;  // by method, or Idempotency-Key where the backend opts in
  std::uint64_t hash_key_ = 0;
  int sticky_server_ = -1;
  std::optional<ForwardedRequest> request_;

  UpstreamConnector connector_;
  Http1Upstream upstream_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::unique_ptr<H2Upstream> h2_;  // protocol h2 or h2c: a stream per try
  ClientAddresses client_addresses_;
  bool allow_pooled_ = true;
  int retries_left_ = 0;
  bool counted_retry_ = false;
  std::string held_body_;  // the body as sent, kept for a resend up to retries.max_body
  bool body_held_ = true;
  // The request's trailer fields that go to the server (filtered), views
  // into the downstream's; empty when none came (nothing allocated).
  std::vector<http::HeaderField> request_trailers_;
  bool body_started_ = false;             // body bytes were taken from the client
  bool interim_relayed_ = false;          // a 1xx reached the client: the server answered
  bool send_failed_ = false;              // the try's request could not be sent whole
  std::uint64_t connect_started_us_ = 0;  // recorded requests: when the try's connect began
  bool response_started_ = false;
  bool no_server_left_ = false;  // a retry found no other usable server
  ExchangeError send_error_;     // why sending failed on the client's side
  std::string cookie_;           // Set-Cookie's value (sticky)
  // Response fields as parsed, then filtered in place; one spare slot for
  // the sticky cookie.
  static constexpr std::size_t kMaxResponseFields = 160;
  UninitializedArray<http::HeaderField, kMaxResponseFields + 1> response_fields_;
};

}  // namespace sluice::proxy
