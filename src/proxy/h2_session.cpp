#include "proxy/h2_session.h"
#include "core/pooled_allocator.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/address.h"
#include "core/buffer_pool.h"
#include "core/byte_stream.h"
#include "core/log.h"
#include "core/signal.h"
#include "core/worker.h"
#include "http/h2_connection.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "http/token.h"
#include "proxy/exchange.h"
#include "proxy/filtered_downstream.h"
#include "proxy/h2_downstream.h"
#include "proxy/middleware_chain.h"
#include "proxy/request_finish.h"
#include "proxy/request_identity.h"
#include "proxy/request_routing.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"
#include "tls/tls_stream.h"

namespace sluice::proxy {
namespace {

// While streams are open the reader wakes at least this often, to see a
// stop or a reload that removed the listener and to reset idle streams.
constexpr std::uint64_t kTickMs = 1'000;
// Frames written in one go, at most.
constexpr std::size_t kWriteBatch = 64 * 1024;
// Room a write batch starts with (one allocation): a turn's responses to
// ten streams fit, where growing from nothing took about ten reallocations
// and copies per batch.
constexpr std::size_t kWriteRoom = 16 * 1024;

LogThrottle h2_refusal_log;  // all workers: refusals come in crowds

class H2Session final : public http::H2ServerConnection::Handler {
 public:
  H2Session(ConnectionScope& scope, ByteStream& stream, WorkerContext& ctx,
            const SocketAddress& client, std::string_view client_subject,
            std::shared_ptr<const ListenerSettings> listener)
      : scope_(scope),
        stream_(stream),
        ctx_(ctx),
        client_(client),
        listener_(std::move(listener)),
        codec_(listener_->h2_limits, *this),
        link_{codec_,
              writer_,
              scope.worker().loop(),
              *listener_,
              client_,
              stream.is_secure(),
              client_subject,
              listener_->h2_zero_window_timeout_ms} {}

  Task<void> run(std::string received);

  // http::H2ServerConnection::Handler
  http::H2StreamState* open_stream(std::int32_t id) override;
  void on_request(http::H2StreamState& s) override;
  void on_body(http::H2StreamState& s) override;
  void on_output_taken(http::H2StreamState& s) override;
  void on_close(http::H2StreamState& s, std::uint32_t error_code) override;

 private:
  EventLoop& loop() { return scope_.worker().loop(); }
  H2Stream& stream_of(http::H2StreamState& s) { return *static_cast<H2Stream*>(s.user); }
  bool feed(std::string_view bytes);
  void start_streams();
  Task<void> write_loop();
  Task<void> serve_stream(H2Stream* st);
  Task<void> answer(H2Stream& st);
  Task<middleware::Verdict> pass_middlewares(H2Stream& st, MiddlewarePass& pass,
                                             const http::RequestHead& head, const RequestTarget& t,
                                             const route::Captures& captures,
                                             const route::Route& route,
                                             const FilteredDownstream* ahead);
  // What forward() needs of the request beyond its head.
  struct Routed {
    std::shared_ptr<const route::Route> route;
    std::shared_ptr<const Backend> backend;
    std::shared_ptr<const MiddlewareChain> middlewares;  // null: none
    const RequestTarget& target;
    const route::Captures& captures;
  };
  Task<void> forward(H2Stream& st, const http::RequestHead& head, Routed& routed,
                     std::uint64_t started_ms);
  Task<void> respond(H2Stream& st, const route::Route& route, const http::RequestHead& head,
                     ResponseFilters filters);
  Task<void> redirect(H2Stream& st, const route::Route& route, const http::RequestHead& head,
                      const route::RequestView& view, const route::Captures& captures,
                      ResponseFilters filters);
  Task<void> send_error(H2Stream& st, int status, const char* reason, bool head_request,
                        bool log = true, std::span<const http::HeaderField> extra = {});
  void drop_body(H2Stream& st);
  void forget(H2Stream& st);
  void reset_idle_streams();
  bool should_go_away();
  void task_ended();
  void record_stream(observe::RequestRecord& r, const http::H2StreamState& s);

  ConnectionScope& scope_;
  ByteStream& stream_;
  WorkerContext& ctx_;
  const SocketAddress& client_;
  // The listener's settings as the connection began: its limits hold for
  // the connection's life; routes always come from the configuration in
  // force.
  std::shared_ptr<const ListenerSettings> listener_;
  Signal writer_;      // frames are queued
  Signal tasks_done_;  // the last task ended
  http::H2ServerConnection codec_;
  H2StreamLink link_;
  std::unordered_map<std::int32_t, std::unique_ptr<H2Stream>, std::hash<std::int32_t>,
                     std::equal_to<std::int32_t>,
                     PooledAllocator<std::pair<const std::int32_t, std::unique_ptr<H2Stream>>>>
      streams_;
  std::vector<H2Stream*> started_;  // heads completed during the last feed
  int live_tasks_ = 0;
  bool ending_ = false;
};

bool H2Session::feed(std::string_view bytes) {
  const bool ok = codec_.receive(bytes, loop().now_ms());
  start_streams();
  writer_.raise();
  if (!ok) {
    const std::uint64_t n = h2_refusal_log.note(loop().now_ms());
    if (n > 0) {
      spdlog::warn("listener '{}' client {}: HTTP/2 connection closed: {}{}", listener_->name,
                   client_.to_string(), codec_.failure() ? codec_.failure() : "protocol error",
                   n > 1 ? fmt::format("; {} such in the last second", n) : std::string());
    }
  }
  return ok;
}

// Stream tasks start after the codec returns, never inside its callbacks.
void H2Session::start_streams() {
  std::vector<H2Stream*> ready;
  ready.swap(started_);
  for (H2Stream* st : ready)
    spawn(serve_stream(st));
}

http::H2StreamState* H2Session::open_stream(std::int32_t id) {
  if (ending_ || codec_.goaway_sent()) return nullptr;
  auto st = std::make_unique<H2Stream>();
  st->state.user = st.get();
  st->last_activity_ms = loop().now_ms();
  http::H2StreamState* s = &st->state;
  streams_[id] = std::move(st);
  return s;
}

void H2Session::on_request(http::H2StreamState& s) {
  H2Stream& st = stream_of(s);
  st.last_activity_ms = loop().now_ms();
  st.task_running = true;
  started_.push_back(&st);
}

void H2Session::on_body(http::H2StreamState& s) {
  H2Stream& st = stream_of(s);
  st.last_activity_ms = loop().now_ms();
  if (!st.task_running) {
    drop_body(st);
    return;
  }
  st.wake.raise();
}

void H2Session::on_output_taken(http::H2StreamState& s) {
  H2Stream& st = stream_of(s);
  st.last_activity_ms = loop().now_ms();
  st.wake.raise();
}

void H2Session::on_close(http::H2StreamState& s, std::uint32_t error_code) {
  H2Stream& st = stream_of(s);
  if (!st.task_running) {
    forget(st);
    return;
  }
  // A reset (by the client, or by us) ends the exchange; a clean close
  // once the whole response was taken lets the task see it went out.
  const bool response_taken = st.response_done || st.state.out_done;
  if (error_code != http::h2_error::no_error || !response_taken) st.cancel.cancel();
  st.wake.raise();
}

// Body bytes nobody will read: the windows open so the client can finish
// sending what it started (RFC 9113 §8.1: the response may come first).
void H2Session::drop_body(H2Stream& st) {
  const std::size_t n = st.state.body.size();
  st.state.body.clear();
  codec_.consume(st.state, n);
  if (n > 0) writer_.raise();
}

void H2Session::forget(H2Stream& st) {
  streams_.erase(st.state.id);
}

// What the record learns from the stream's head, before anything is
// checked: a refused request is logged with what it asked.
void H2Session::record_stream(observe::RequestRecord& r, const http::H2StreamState& s) {
  record_listener(r, *listener_);
  r.protocol = "HTTP/2";
  r.method = s.method;
  r.host = s.authority;
  r.target = s.path;
  r.client = &client_;
  if (!stream_.is_secure()) return;
  if (const auto* tls = dynamic_cast<const tls::TlsStream*>(&stream_)) {
    r.tls_version = tls->version();
    r.sni = tls->server_name();
  }
}

void H2Session::task_ended() {
  if (--live_tasks_ == 0) tasks_done_.raise();
}

Task<void> H2Session::serve_stream(H2Stream* st) {
  ++live_tasks_;
  co_await answer(*st);
  st->task_running = false;
  if (!st->state.closed) {
    drop_body(*st);
    st->state.body.clear();
    if (!st->response_done) codec_.reset(st->state, http::h2_error::internal_error);
    writer_.raise();
  } else {
    forget(*st);
  }
  task_ended();
}

bool has_field(std::span<const http::HeaderField> fields, std::string_view name,
               std::string_view& value) {
  for (const auto& f : fields) {
    if (f.name == name) {
      value = f.value;
      return true;
    }
  }
  return false;
}

// RFC 9110 §15.5.6: a 405 lists the methods the target supports.
constexpr http::HeaderField kAllowWithoutConnect{"allow",
                                                 "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"};

Task<void> H2Session::answer(H2Stream& st) {
  http::H2StreamState& s = st.state;
  const std::uint64_t started_ms = loop().now_ms();
  const bool head_request = s.method == "HEAD";
  RequestRecording recording(ctx_, &st.record);
  if (st.record != nullptr) record_stream(*st.record, s);
  if (s.too_large) {
    co_await send_error(st, 431, "request header fields too large", head_request);
    co_return;
  }
  const std::size_t slot = scope_.listener_index();
  std::shared_ptr<const ListenerSettings> pinned = ctx_.snapshot->in_slot(slot);
  if (!pinned) {
    co_await send_error(st, 503, "this listener was removed by a reload", head_request);
    co_return;
  }
  // RFC 9113 §8.3.1: the request as HTTP/1.1 would carry it, :authority
  // as its Host. Cookie crumbs were joined into one field (§8.2.3).
  if (!s.cookie.empty()) s.fields.add("cookie", s.cookie);
  http::RequestHead head;
  head.method_text = s.method;
  head.method = http::method_from(s.method);
  head.target = s.path;
  head.version_minor = 1;
  head.fields = s.fields.fields();
  head.host = s.authority;
  std::string_view host_field;
  if (has_field(head.fields, "host", host_field) && head.host.empty()) head.host = host_field;
  if (st.record != nullptr) assign_identity(ctx_, *pinned, head, &client_, *st.record);
  std::string_view length;
  if (has_field(head.fields, "content-length", length)) {
    head.framing = http::Framing::content_length;
    const auto r =
        std::from_chars(length.data(), length.data() + length.size(), head.content_length);
    if (r.ec != std::errc() || r.ptr != length.data() + length.size()) {
      co_await send_error(st, 400, "invalid content-length", head_request);
      co_return;
    }
  } else {
    head.framing = s.ended ? http::Framing::none : http::Framing::chunked;
  }
  if (head.method == http::Method::CONNECT) {
    // RFC 9113 §8.5: a tunnel over one stream, which sluice does not do.
    co_await send_error(st, 405, "CONNECT is not allowed here", head_request, true,
                        std::span<const http::HeaderField>(&kAllowWithoutConnect, 1));
    co_return;
  }
  if (head.host.empty()) {
    co_await send_error(st, 400, "the request names no host (:authority or Host)", head_request);
    co_return;
  }
  // The same rule as an HTTP/1 Host (RFC 9110 §7.2): nothing but
  // host[:port] reaches a route, a Location or a backend.
  if (!http::is_authority(head.host)) {
    co_await send_error(st, 400, "invalid :authority or Host", head_request);
    co_return;
  }
  if (head.framing == http::Framing::content_length && pinned->max_body_bytes &&
      head.content_length > *pinned->max_body_bytes) {
    co_await send_error(st, 413, "request body larger than the listener allows", head_request);
    co_return;
  }
  RequestTarget t;
  if (const route::PathError e = resolve_target(head, *pinned, t); e != route::PathError::none) {
    co_await send_error(st, 400, route::describe(e), head_request);
    co_return;
  }
  route::Captures captures;
  std::shared_ptr<const Backend> backend;
  std::shared_ptr<const route::Route> route =
      find_route(*ctx_.snapshot, slot, head, t.view, captures, backend);
  if (route == nullptr) {
    co_await send_error(st, 404, "no route matches this request", head_request);
    co_return;
  }
  if (st.record != nullptr) record_route(*st.record, *route, backend.get());
  std::shared_ptr<const MiddlewareChain> chain = chain_for(*ctx_.snapshot, *pinned, *route);
  if (route->action == route::ActionKind::backend) {
    if (!apply_rewrite(*route, captures, t)) {
      co_await send_error(st, 400, "the route's rewrite gives an invalid request target",
                          head_request);
      co_return;
    }
    // A named argument: GCC 12 destroys a braced temporary passed to a
    // coroutine twice (docs/architecture.md).
    Routed routed{std::move(route), std::move(backend), std::move(chain), t, captures};
    co_await forward(st, head, routed, started_ms);
    co_return;
  }
  std::optional<MiddlewarePass> pass;
  if (chain) {
    pass.emplace(std::move(chain));
    const middleware::Verdict v =
        co_await pass_middlewares(st, *pass, head, t, captures, *route, nullptr);
    if (v == middleware::Verdict::answer) co_return;
  }
  const ResponseFilters filters = pass ? ResponseFilters(pass->filters()) : ResponseFilters();
  switch (route->action) {
    case route::ActionKind::redirect:
      co_await redirect(st, *route, head, t.view, captures, filters);
      co_return;
    default:
      co_await respond(st, *route, head, filters);
      co_return;
  }
}

Task<middleware::Verdict> H2Session::pass_middlewares(
    H2Stream& st, MiddlewarePass& pass, const http::RequestHead& head, const RequestTarget& t,
    const route::Captures& captures, const route::Route& route, const FilteredDownstream* ahead) {
  MiddlewareRequest mr;
  describe_request(head, t, captures, route, client_, stream_.is_secure(), mr);
  if (st.record != nullptr) mr.request.request_id = st.record->request_id;
  describe_body(ahead, pass.chain().wants_body, st.state.ended, mr.request);
  mr.request.version = 20;
  mr.request.now_ms = loop().now_ms();
  const middleware::Context mc{&loop(), &st.cancel, ctx_.index};
  const middleware::Verdict v = co_await pass.run(mc, mr.request);
  if (v == middleware::Verdict::next) co_return v;
  const middleware::Answer& a = pass.answer();
  log_middleware_answer(listener_->name, route.name, pass, client_);
  std::vector<http::HeaderField> fields;
  const http::OutgoingResponse res = answer_head(a, fields);
  (void)co_await send_h2_local(link_, st, res, a.body, head.method == http::Method::HEAD);
  co_return v;
}

Task<void> H2Session::forward(H2Stream& st, const http::RequestHead& head, Routed& routed,
                              std::uint64_t started_ms) {
  H2Downstream down(link_, st, head, started_ms);
  std::optional<MiddlewarePass> pass;
  std::optional<FilteredDownstream> filtered;
  if (routed.middlewares) {
    pass.emplace(std::move(routed.middlewares));
    const std::size_t wanted = pass->chain().wants_body;
    if (wanted > 0 && !st.state.ended) {
      filtered.emplace(down);
      co_await filtered->read_ahead(wanted);
    }
    const middleware::Verdict v =
        co_await pass_middlewares(st, *pass, head, routed.target, routed.captures, *routed.route,
                                  filtered ? &*filtered : nullptr);
    if (v == middleware::Verdict::answer) co_return;
    if (!pass->filters().empty() || pass->edits().max_body_bytes > 0) {
      if (!filtered) filtered.emplace(down);
      filtered->set_filters(pass->filters(), pass->edits().max_body_bytes);
    }
  }
  down.set_record(st.record);
  ExchangeInputs in;
  in.ctx = &ctx_;
  in.loop = &loop();
  in.buffers = &scope_.worker().buffers();
  // No bulk buffers: a client's streams multiply what stalled readers hold
  // (up to max_concurrent_streams per connection, each with a 64 KiB buffer
  // instead of 16), and the gain over HTTP/2 was not measured.
  in.bulk_buffers = nullptr;
  in.cancel = &st.cancel;
  in.record = st.record;
  in.listener = listener_.get();
  in.route = std::move(routed.route);
  in.backend = std::move(routed.backend);
  in.client_fd = stream_.fd();
  if (pass) in.edits = &pass->edits();
  Downstream& client_side = filtered ? static_cast<Downstream&>(*filtered) : down;
  Exchange exchange(std::move(in), client_side, head, routed.target.target);
  const ExchangeEnd end = co_await exchange.run();
  if (st.record != nullptr) {
    st.record->termination = end.code;
    if (end.status == 0) stamp_end(*st.record);
  }
  if (end.status != 0) {
    co_await send_error(st, end.status, end.reason, head.method == http::Method::HEAD, false);
    co_return;
  }
  if (end.then == ExchangeEnd::Then::close_now) down.reset();
}

Task<void> H2Session::respond(H2Stream& st, const route::Route& route,
                              const http::RequestHead& head, ResponseFilters filters) {
  const route::PreparedResponse& prepared = route.respond();
  std::vector<http::HeaderField> fields(prepared.fields.size());
  fields.resize(prepared.fields_into(fields));
  http::OutgoingResponse res;
  res.status = prepared.status;
  res.fields = fields;
  if (prepared.has_content) {
    res.body = http::BodyKind::sized;
    res.length = prepared.body.size();
  }
  middleware::ResponseHead filtered;
  if (!filters.empty()) {
    filter_local_head(filters, res.status, prepared.has_content, res.fields, filtered);
    res.fields = filtered.fields;
  }
  (void)co_await send_h2_local(link_, st, res, prepared.body, head.method == http::Method::HEAD);
}

Task<void> H2Session::redirect(H2Stream& st, const route::Route& route,
                               const http::RequestHead& head, const route::RequestView& view,
                               const route::Captures& captures, ResponseFilters filters) {
  const std::string location = route::redirect_location(route.redirect(), head.host, view.path,
                                                        view.query, captures, stream_.is_secure());
  const http::HeaderField fields[] = {{"location", location}};
  http::OutgoingResponse res;
  res.status = route.redirect().status;
  res.fields = fields;
  res.body = http::BodyKind::sized;
  res.length = 0;
  middleware::ResponseHead filtered;
  if (!filters.empty()) {
    filter_local_head(filters, res.status, true, res.fields, filtered);
    res.fields = filtered.fields;
  }
  (void)co_await send_h2_local(link_, st, res, {}, head.method == http::Method::HEAD);
}

Task<void> H2Session::send_error(H2Stream& st, int status, const char* reason, bool head_request,
                                 bool log, std::span<const http::HeaderField> extra) {
  if (log) {
    spdlog::warn("listener '{}' client {}: {} {} ({}; HTTP/2 stream {})", listener_->name,
                 client_.to_string(), status, http::reason_phrase(status), reason, st.state.id);
  }
  std::vector<http::HeaderField> fields{{"content-type", "text/plain"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  std::string body(reason);
  body.push_back('\n');
  http::OutgoingResponse res;
  res.status = status;
  res.fields = fields;
  res.body = http::BodyKind::sized;
  res.length = body.size();
  (void)co_await send_h2_local(link_, st, res, body, head_request);
}

Task<void> H2Session::write_loop() {
  ++live_tasks_;
  std::string out;
  while (true) {
    out.clear();
    if (out.capacity() < kWriteRoom && codec_.wants_write()) out.reserve(kWriteRoom);
    codec_.take_output(out, kWriteBatch);
    if (out.empty()) {
      if (ending_) break;
      if (!codec_.wants_write() && !codec_.wants_read()) {
        // A GOAWAY that ends the connection went out: the reader stops.
        ending_ = true;
        stream_.cancel();
        break;
      }
      // Idle: the batch's memory goes back.
      if (out.capacity() > 4096) std::string().swap(out);
      (void)co_await writer_.wait(loop());
      continue;
    }
    const auto wrote = co_await stream_.write(out, listener_->h2_zero_window_timeout_ms);
    if (!wrote) {
      // The client is gone or takes nothing: the reader stops too.
      ending_ = true;
      stream_.cancel();
      break;
    }
  }
  task_ended();
}

bool H2Session::should_go_away() {
  return scope_.worker().stopping() || ctx_.snapshot->in_slot(scope_.listener_index()) == nullptr;
}

void H2Session::reset_idle_streams() {
  const std::uint64_t now = loop().now_ms();
  const std::uint64_t limit = listener_->h2_stream_idle_timeout_ms;
  for (auto& [id, st] : streams_) {
    if (!st->task_running || st->state.closed || now - st->last_activity_ms < limit) continue;
    spdlog::warn("listener '{}' client {}: HTTP/2 stream {} reset (idle for {} ms)",
                 listener_->name, client_.to_string(), id, limit);
    codec_.reset(st->state, http::h2_error::cancel);
    st->cancel.cancel();
  }
  writer_.raise();
}

Task<void> H2Session::run(std::string received) {
  spawn(write_loop());
  bool ok = feed(received);
  std::string().swap(received);
  bool first = true;  // nothing after the preface yet: timeouts.header applies
  while (ok && codec_.wants_read() && !ending_) {
    if (!codec_.goaway_sent() && should_go_away()) {
      // Graceful (RFC 9113 §6.8): streams taken in finish; no new ones.
      codec_.goaway(http::h2_error::no_error);
      writer_.raise();
    }
    const bool idle = codec_.open_streams() == 0;
    if (idle && codec_.goaway_sent()) break;
    std::uint64_t timeout = first ? listener_->header_timeout_ms : listener_->idle_timeout_ms;
    if (!idle) timeout = std::min(kTickMs, listener_->h2_stream_idle_timeout_ms);
    scope_.set_idle(idle && !first);
    const bool readable = (co_await stream_.wait_readable(timeout)).ok();
    scope_.set_idle(false);
    if (!readable) {
      if (ending_ || stream_.fd() < 0) break;
      if (!idle) {
        reset_idle_streams();
        continue;
      }
      // Idle past timeouts.idle, a stop, or the client left.
      codec_.goaway(http::h2_error::no_error);
      break;
    }
    Buffer buf = scope_.worker().buffers().acquire();
    auto r = co_await stream_.read(std::span<char>(buf.data(), buf.capacity()), kTickMs);
    if (!r) {
      if (r.code() == Errc::timeout) continue;
      break;
    }
    first = false;
    ok = feed(std::string_view(buf.data(), *r));
  }
  // What is queued (a GOAWAY) goes out; then every stream still running
  // ends, and the session with them.
  ending_ = true;
  writer_.raise();
  for (auto& [id, st] : streams_)
    st->cancel.cancel();
  while (live_tasks_ > 0)
    (void)co_await tasks_done_.wait(loop());
}

}  // namespace

Task<void> serve_h2(ConnectionScope& scope, ByteStream& stream, WorkerContext& ctx,
                    const SocketAddress& client, std::string_view client_subject,
                    std::string received) {
  std::shared_ptr<const ListenerSettings> listener = ctx.snapshot->in_slot(scope.listener_index());
  if (!listener) co_return;
  H2Session session(scope, stream, ctx, client, client_subject, std::move(listener));
  co_await session.run(std::move(received));
}

}  // namespace sluice::proxy
