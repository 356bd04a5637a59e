// The request side of a forwarded exchange: rewrite the head (hop-by-hop
// fields out, X-Forwarded-* in), choose a server, take a pooled connection
// (or borrow one from another worker, or open one), send head and body.
#include "proxy/forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <array>
#include <cstring>

#include "core/socket.h"
#include "core/worker.h"
#include "http/head_writer.h"
#include "http/hop_by_hop.h"
#include "http/parser.h"
#include "http/proxy_protocol.h"
#include "http/serializer.h"
#include "http/token.h"
#include "proxy/exchange.h"
#include "proxy/pool_group.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

// The value of cookie `name` ("a=1; b=2": RFC 6265 §4.2.1).
bool find_cookie(const http::RequestHead& head, std::string_view name, std::string_view& value) {
  for (const auto& f : head.fields) {
    if (!http::iequals(f.name, "cookie")) continue;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        value = pair.substr(eq + 1);
        return true;
      }
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return false;
}

// How long a worker waits for another worker to hand over an idle
// connection before it opens one itself: a cross-thread round trip.
constexpr std::uint64_t kBorrowWaitMs = 20;
constexpr std::size_t kMaxResponseFields = 160;
// pool.reuse: safe lets a request that cannot be resent use a pooled
// connection only if it finished an exchange this recently.
constexpr std::uint64_t kProvenAliveMs = 1'000;
// The log's addition when a retry found every other server unusable.
constexpr const char* kNoServerLeft = "no other server is usable";

}  // namespace

Task<ForwardResult> forward_request(WorkerContext& ctx, std::shared_ptr<const route::Route> route,
                                    std::shared_ptr<const Backend> backend,
                                    const http::RequestHead& head, std::size_t head_bytes,
                                    std::string_view target, ClientConnection& client,
                                    bool keep_alive) {
  Exchange exchange(ctx, std::move(route), std::move(backend), head, client, keep_alive);
  co_return co_await exchange.run(head, head_bytes, target);
}

Exchange::Exchange(WorkerContext& ctx, std::shared_ptr<const route::Route> route,
                   std::shared_ptr<const Backend> backend, const http::RequestHead& head,
                   ClientConnection& client, bool keep_alive)
    : ctx_(ctx),
      route_pin_(std::move(route)),
      backend_pin_(std::move(backend)),
      route_(*route_pin_),
      backend_(*backend_pin_),
      client_(client),
      loop_(client.scope.worker().loop()),
      method_(head.method),
      method_text_(head.method_text),
      client_minor_(head.version_minor),
      client_keep_alive_(keep_alive),
      upgrade_(head.upgrade),
      expect_continue_(head.expect_continue),
      request_framing_(head.framing),
      request_length_(head.content_length),
      body_pace_(client.listener, client.request_started_ms) {
  // RFC 9110 §9.2.2; a backend may also opt in to Idempotency-Key.
  idempotent_ = http::is_idempotent(method_) && !upgrade_;
  if (!idempotent_ && backend_.retries.idempotency_key) {
    for (const auto& f : head.fields) {
      if (http::iequals(f.name, "idempotency-key") && !f.value.empty()) idempotent_ = true;
    }
  }
  retries_left_ = backend_.retries.attempts;
  backend_.load->active.fetch_add(1, std::memory_order_relaxed);
  ++ctx_.backend_in_use;
}

Exchange::~Exchange() {
  --ctx_.backend_in_use;
  release_server();
  backend_.load->active.fetch_sub(1, std::memory_order_relaxed);
  if (counted_retry_) backend_.load->retrying.fetch_sub(1, std::memory_order_relaxed);
}

Task<ForwardResult> Exchange::run(const http::RequestHead& head, std::size_t head_bytes,
                                  std::string_view target) {
  BufferPool& buffers = client_.scope.worker().buffers();
  scratch_ = buffers.acquire();
  if (!build_request_head(head, target)) {
    co_return fail(431, "request head too large to forward");
  }
  if (backend_.balancer->algorithm() == balance::Algorithm::hash) {
    hash_key_ = request_hash(head, target);
  }
  sticky_server_ = sticky_server(head);
  // The head now lives in scratch_; from here `head` is not read again.
  drop_client_bytes(head_bytes);
  if (!pick_server()) co_return fail(503, "no server available");
  ubuf_ = buffers.acquire();
  bool allow_pooled = true;
  std::array<http::HeaderField, kMaxResponseFields> fields;
  while (true) {
    if (!co_await admit()) {
      co_return fail(503, "the server is at max_connections and the queue is full or timed out");
    }
    // Connecting failed: nothing was sent, so any request may go again,
    // to the next server.
    Step s = co_await acquire_connection(allow_pooled);
    if (s == Step::client_failed) co_return ForwardResult{};
    if (s == Step::local_shortage) {
      // Our shortage (descriptors, ports), not the server's: no failure is
      // recorded against it, and another server would fare no better.
      co_return fail(503, "cannot open a connection: this host is out of descriptors or ports");
    }
    if (s != Step::ok) {
      backend_.balancer->record_failure(server_index_, loop_.now_ms());
      const char* why = s == Step::refused   ? "connection refused by the server"
                        : s == Step::timeout ? "connecting to the server timed out"
                                             : "cannot connect to the server";
      const int status = s == Step::timeout ? 504 : 502;
      if (retries_left_ > 0 && within_retry_budget()) {
        if (!retry_elsewhere(why)) co_return fail(status, why, kNoServerLeft);
        continue;
      }
      co_return fail(status, why);
    }
    ++ctx_.counters.requests;
    if (conn_reused_) ++ctx_.counters.reused;
    s = co_await send_request();
    if (s == Step::client_failed) co_return ForwardResult{};
    if (s == Step::rejected) co_return fail(reject_status_, reject_reason_);
    // Even when sending failed, the server may have answered early (a 413
    // before the body ended): read what it said.
    http::ResponseParser parser(
        http::ParserLimits{ubuf_.capacity(), ubuf_.capacity(), fields.size()},
        std::span<http::HeaderField>(fields.data(), fields.size()));
    const std::uint64_t sent_ms = loop_.now_ms();
    const Step r = co_await read_response_head(parser);
    if (r == Step::ok) {
      backend_.balancer->record_success(server_index_);
      backend_.balancer->state(server_index_)
          .record_latency(static_cast<std::uint32_t>((loop_.refresh_now() - sent_ms) * 1000));
      const http::ResponseHead& rh = parser.head();
      if (rh.status == 101) co_return co_await relay_upgrade(rh, parser.head_bytes());
      // RFC 9110 §9.3.6: a 2xx to CONNECT makes the connection a tunnel.
      if (method_ == http::Method::CONNECT && rh.status / 100 == 2) {
        co_return co_await relay_tunnel(rh, parser.head_bytes());
      }
      // Whatever else a server says to CONNECT, its connection may already
      // be half a tunnel: it is never pooled.
      if (method_ == http::Method::CONNECT) backend_clean_ = false;
      co_return co_await relay_response(rh, parser.head_bytes());
    }
    if (r == Step::client_failed) co_return ForwardResult{};
    if (r == Step::rejected) co_return fail(502, reject_reason_);
    // The benign keep-alive race: a pooled connection the server closed or
    // reset before any byte of an answer (its idle timeout at work). Only
    // that is not ill health and not a retry the budget guards; silence
    // (a timeout) on any connection is the server's fault.
    const bool keep_alive_race = conn_reused_ && r == Step::backend_failed && uused_ == 0;
    if (!keep_alive_race) backend_.balancer->record_failure(server_index_, loop_.now_ms());
    const char* why = r == Step::timeout ? "the server did not answer in time"
                                         : "the server closed the connection without answering";
    // Sent, and no answer: resend only what the server cannot have acted
    // on twice (RFC 9110 §9.2.2, RFC 9112 §9.3.1), to the next server.
    if (resendable() && retries_left_ > 0 && (keep_alive_race || within_retry_budget())) {
      allow_pooled = false;  // the pooled connection was the likely culprit
      if (!retry_elsewhere(why)) {
        co_return r == Step::timeout ? fail(504, why, kNoServerLeft)
                                     : fail(502, why, kNoServerLeft);
      }
      continue;
    }
    if (r == Step::timeout) co_return fail(504, why);
    co_return unanswered();
  }
}

// Moves a retry to the next usable server. False when none is usable (all
// down, ejected, drained or the one just tried): the request ends there.
bool Exchange::retry_elsewhere(const char* why) {
  note_retry(why);
  return pick_server();
}

bool Exchange::resendable() const {
  return idempotent_ && body_held_ && client_body_read_ && uused_ == 0 && !interim_relayed_;
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

void Exchange::note_retry(const char* why) {
  --retries_left_;
  ++ctx_.counters.retries;
  spdlog::warn("listener '{}' route '{}' backend '{}' server {}: {}; retrying {} ({} {} left)",
               client_.listener.name, route_.name, backend_.name, server_->address, why,
               method_text_, retries_left_, retries_left_ == 1 ? "retry" : "retries");
  retire_backend();
}

// The request was sent and cannot be resent. RFC 9112 §9.3.1: a client
// whose connection carried earlier requests can tell this case from a
// response and apply its own retry rules, so it gets the same close we
// got; a first request gets 502.
ForwardResult Exchange::unanswered() {
  ++ctx_.counters.unanswered;
  if (!client_.earlier_requests) {
    return fail(502, "the server closed the connection without answering");
  }
  spdlog::warn(
      "listener '{}' route '{}' backend '{}' server {}: the server closed the connection "
      "without answering a {} it cannot be sent again; closing the client connection",
      client_.listener.name, route_.name, backend_.name, server_->address, method_text_);
  retire_backend();
  ForwardResult r;
  r.next = ForwardResult::Next::abort;
  return r;
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

// RFC 9110 §7.6.1: connection-specific fields stay on their hop. Framing is
// ours to write (Content-Length / Transfer-Encoding), so a Connection
// header naming Content-Length cannot make us send a body unframed.
bool Exchange::build_request_head(const http::RequestHead& head, std::string_view target) {
  http::HeadWriter w(std::span<char>(scratch_.data(), scratch_.capacity()));
  w.put(head.method_text);
  w.put(" ");
  // RFC 9112 §3.2.1: origin-form starts with "/", also when the path of
  // an absolute-form target was empty before its query.
  if (!target.empty() && target.front() == '?') w.put("/");
  w.put(target);
  w.put(" HTTP/1.1\r\n");
  const http::HopByHopFields hop(head.fields);
  const ForwardedPolicy& fwd = *client_.listener.forwarded;
  const bool add_forwarded = fwd.applies_to(client_.peer);
  const bool add_for = add_forwarded && fwd.x_forwarded_for;
  // RFC 9112 §3.2: an HTTP/1.1 request carries Host. The parser's host is
  // the absolute-form target's authority when there was one (RFC 9112
  // §3.2.2), so the client's Host field is never copied as is; a 1.0
  // client may have sent none.
  const std::string_view host = !route_.rewrite.host.empty() ? route_.rewrite.host
                                : !head.host.empty()         ? head.host
                                                             : server_address_for_host();
  bool have_host = false;
  bool had_length = false;
  for (const auto& f : head.fields) {
    if (http::iequals(f.name, "host")) {
      w.field("Host", host);  // where the client put it (first, usually)
      have_host = true;
      continue;
    } else if (hop.contains(f.name)) {
      if (!(upgrade_ && http::iequals(f.name, "upgrade"))) continue;
    } else if (http::iequals(f.name, "content-length")) {
      had_length = true;
      continue;  // framing is rewritten below
    } else if (http::iequals(f.name, "expect")) {
      continue;  // 100-continue is answered by us
    } else if (add_forwarded &&
               ((add_for && http::iequals(f.name, "x-forwarded-for")) ||
                (fwd.x_forwarded_proto && http::iequals(f.name, "x-forwarded-proto")) ||
                (fwd.x_forwarded_host && http::iequals(f.name, "x-forwarded-host")))) {
      continue;
    } else if (f.name.find('_') != std::string_view::npos &&
               !client_.listener.keep_underscore_fields) {
      // CGI and WSGI turn '-' into '_', so X_Forwarded_For would reach
      // them as the HTTP_X_FORWARDED_FOR we set (nginx drops these too).
      spdlog::debug("listener '{}': dropped header field '{}' (underscore in its name)",
                    client_.listener.name, f.name);
      continue;
    }
    w.field(f.name, f.value);
  }
  if (!have_host) w.field("Host", host);
  char number[24];
  if (request_framing_ == http::Framing::content_length) {
    const int n = std::snprintf(number, sizeof number, "%llu",
                                static_cast<unsigned long long>(request_length_));
    w.field("Content-Length", std::string_view(number, static_cast<std::size_t>(n)));
  } else if (request_framing_ == http::Framing::chunked) {
    w.put("Transfer-Encoding: chunked\r\n");
  } else if (had_length || method_ == http::Method::POST || method_ == http::Method::PUT ||
             method_ == http::Method::PATCH) {
    // RFC 9110 §8.6: a request whose method gives content a meaning says
    // its length even when it is 0; without it some servers answer 411,
    // and some read the next pipelined request as this one's body.
    w.put("Content-Length: 0\r\n");
  }
  if (upgrade_) w.put("Connection: upgrade\r\n");
  if (add_for) {
    // Appended to what earlier proxies wrote, in order (one field, RFC 9110 §5.3).
    w.put("X-Forwarded-For: ");
    for (const auto& f : head.fields) {
      if (!http::iequals(f.name, "x-forwarded-for") || f.value.empty()) continue;
      w.put(f.value);
      w.put(", ");
    }
    char ip[INET6_ADDRSTRLEN + 1] = {};
    w.put(client_ip(ip, sizeof ip));
    w.put("\r\n");
  }
  if (add_forwarded && fwd.x_forwarded_proto) w.put("X-Forwarded-Proto: http\r\n");
  if (add_forwarded && fwd.x_forwarded_host && !head.host.empty()) {
    w.field("X-Forwarded-Host", head.host);
  }
  w.put("\r\n");
  request_head_len_ = w.size();
  return !w.overflow();
}

std::string_view Exchange::server_address_for_host() const {
  // Chosen later; until then the first server names the backend.
  const BackendServer* s = server_ != nullptr ? server_ : &backend_.servers.front();
  return s->address;
}

std::string_view Exchange::client_ip(char* out, std::size_t size) const {
  const sockaddr* sa = client_.peer.sa();
  const void* addr = nullptr;
  if (sa->sa_family == AF_INET) {
    addr = &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr;
  } else if (sa->sa_family == AF_INET6) {
    addr = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
  }
  if (addr == nullptr ||
      inet_ntop(sa->sa_family, addr, out, static_cast<socklen_t>(size)) == nullptr) {
    return "unknown";
  }
  return out;
}

void Exchange::drop_client_bytes(std::size_t n) {
  char* data = client_.buf.data();
  if (n < client_.used) std::memmove(data, data + n, client_.used - n);
  client_.used -= std::min(n, client_.used);
}

bool Exchange::pick_server() {
  const balance::Balancer& b = *backend_.balancer;
  // A retry goes elsewhere when another server is usable.
  const int avoid = server_index_;
  release_server();
  int s = -1;
  // sticky: the cookie's server while it is usable; otherwise the balancer
  // chooses and the response sets the cookie anew.
  if (sticky_server_ >= 0 && sticky_server_ != avoid &&
      b.state(sticky_server_).takes_sticky(loop_.now_ms())) {
    s = sticky_server_;
  } else {
    s = b.pick(backend_.balance_state(ctx_.index), loop_.now_ms(), hash_key_, avoid);
  }
  if (s < 0) return false;
  set_sticky_cookie_ = !backend_.sticky_cookie.empty() && s != sticky_server_;
  server_index_ = s;
  server_ = &backend_.servers[static_cast<std::size_t>(s)];
  b.state(s).in_flight.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// max_connections: a slot on the chosen server, waiting in its queue if
// need be. False: answer 503.
Task<bool> Exchange::admit() {
  balance::ConnectionLimit* limit = backend_.balancer->limit(server_index_);
  if (limit == nullptr || holding_slot_) co_return true;
  holding_slot_ =
      co_await limit->acquire(loop_, backend_.queue_timeout_ms, &client_.scope.cancel_token());
  co_return holding_slot_;
}

void Exchange::release_server() {
  if (server_index_ < 0) return;
  if (holding_slot_) {
    backend_.balancer->limit(server_index_)->release();
    holding_slot_ = false;
  }
  backend_.balancer->state(server_index_).in_flight.fetch_sub(1, std::memory_order_relaxed);
  server_index_ = -1;
}

// sticky: the server the request's cookie names, if it is one of ours.
int Exchange::sticky_server(const http::RequestHead& head) const {
  std::string_view id;
  if (backend_.sticky_cookie.empty() || !find_cookie(head, backend_.sticky_cookie, id)) return -1;
  for (std::size_t i = 0; i < backend_.servers.size(); ++i) {
    if (backend_.servers[i].sticky_id == id) return static_cast<int>(i);
  }
  return -1;
}

// The key `balance: hash` places on its ring: from the request's fields as
// received, and from its path as routed and forwarded (so every spelling
// of one path lands on one server).
std::uint64_t Exchange::request_hash(const http::RequestHead& head, std::string_view target) const {
  switch (backend_.hash_source) {
    case HashSource::header:
      for (const auto& f : head.fields) {
        // An empty value is as good as none: hashing "" would send every
        // such request to one server.
        if (http::iequals(f.name, backend_.hash_name) && !f.value.empty())
          return balance::hash_key(f.value);
      }
      return balance::Balancer::kNoKey;
    case HashSource::cookie: {
      std::string_view value;
      return find_cookie(head, backend_.hash_name, value) && !value.empty()
                 ? balance::hash_key(value)
                 : balance::Balancer::kNoKey;
    }
    case HashSource::path: {
      const auto q = target.find('?');
      return balance::hash_key(target.substr(0, q));
    }
    case HashSource::source_ip:
      break;
  }
  char ip[INET6_ADDRSTRLEN + 1] = {};
  return balance::hash_key(client_ip(ip, sizeof ip));
}

Task<Exchange::Step> Exchange::acquire_connection(bool allow_pooled) {
  conn_reused_ = false;
  endpoint_ = backend_.balancer->state(server_index_).endpoint.load(std::memory_order_acquire);
  // Never resolved: it cannot be picked, but nothing is sent anywhere if it was.
  if (endpoint_ == nullptr) co_return Step::backend_failed;
  const ReuseMode reuse = backend_.pool.reuse;
  // pool.reuse: safe. A request we could not resend risks being lost on a
  // connection the server is closing; it takes one only if that connection
  // finished an exchange a moment ago, else a fresh one.
  const bool cautious = reuse == ReuseMode::safe && !(idempotent_ && body_held_);
  if (allow_pooled && reuse != ReuseMode::never) {
    const DestinationId d = endpoint_->pool_key;
    conn_ = ctx_.pool.take(d, cautious ? kProvenAliveMs : UINT64_MAX);
    if (!conn_ && !cautious && ctx_.group != nullptr) {
      if (auto donor = ctx_.group->donor_for(ctx_.index, d)) {
        co_await ctx_.group->borrow(ctx_.index, *donor, d, kBorrowWaitMs,
                                    &client_.scope.cancel_token());
        conn_ = ctx_.pool.take(d);
        if (conn_) ++ctx_.counters.borrowed;
      }
    }
  }
  if (!conn_) {
    const Step s = co_await connect_fresh();
    if (s != Step::ok) co_return s;
  } else {
    conn_reused_ = true;
  }
  conn_->socket().bind_cancel(&client_.scope.cancel_token());
  co_return Step::ok;
}

Task<Exchange::Step> Exchange::connect_fresh() {
  auto fd = co_await connect_to(loop_, endpoint_->addr, backend_.connect_timeout_ms,
                                &client_.scope.cancel_token());
  if (!fd) {
    const Errc e = fd.code();
    if (e == Errc::cancelled) co_return Step::client_failed;
    if (fd.error().is_local_shortage()) co_return Step::local_shortage;
    if (e == Errc::timeout) co_return Step::timeout;
    if (e == Errc::refused) co_return Step::refused;
    co_return Step::backend_failed;
  }
  if (backend_.tcp_keepalive) {
    // TCP keepalive probes (SO_KEEPALIVE) find dead peers on long-idle
    // connections; HTTP keep-alive (reuse) does not depend on it.
    int one = 1;
    setsockopt(*fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  }
  conn_ = std::make_unique<UpstreamConnection>(loop_, *fd, endpoint_->pool_key);
  ++ctx_.counters.connections;
  if (server_->send_proxy != ProxyHeaderVersion::none) {
    // The header names this request's client, so the connection belongs to
    // that client alone: it is not pooled (finish_backend).
    const SocketAddress local = SocketAddress::local_of(client_.sock.fd());
    const std::string header = server_->send_proxy == ProxyHeaderVersion::v1
                                   ? http::make_proxy_header_v1(client_.peer, local)
                                   : http::make_proxy_header_v2(client_.peer, local);
    if (!co_await conn_->socket().write(header, backend_.connect_timeout_ms)) {
      co_return Step::backend_failed;
    }
  }
  co_return Step::ok;
}

Task<Exchange::Step> Exchange::send_request() {
  const std::string_view head(scratch_.data(), request_head_len_);
  Socket& up = conn_->socket();
  if (request_body_started_) {
    // A resend: the head and the body we kept.
    auto w = co_await up.write(head, held_body_, backend_.idle_timeout_ms);
    request_body_sent_ = static_cast<bool>(w);
    co_return w ? Step::ok : Step::backend_failed;
  }
  switch (request_framing_) {
    case http::Framing::content_length:
      co_return co_await send_length_body(request_length_);
    case http::Framing::chunked:
      co_return co_await send_chunked_body();
    default: {
      client_body_read_ = true;
      auto w = co_await up.write(head, backend_.idle_timeout_ms);
      request_body_sent_ = static_cast<bool>(w);
      co_return w ? Step::ok : Step::backend_failed;
    }
  }
}

// RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" holds its body
// back until told to go on; we tell it ourselves (the backend does not see
// the expectation) just before we wait for the body.
Task<Exchange::Step> Exchange::read_client_body() {
  if (expect_continue_ && client_minor_ == 1) {
    expect_continue_ = false;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!co_await client_.sock.write(kContinue, client_.listener.body_timeout_ms)) {
      co_return Step::client_failed;
    }
  }
  while (true) {
    const std::uint64_t started = loop_.now_ms();
    auto r = co_await client_.sock.read(
        std::span<char>(client_.buf.data() + client_.used, client_.buf.capacity() - client_.used),
        body_pace_.read_timeout(started));
    if (!r && r.code() != Errc::timeout) co_return Step::client_failed;
    const std::size_t n = r ? *r : 0;
    if (const char* slow = body_pace_.after_read(started, loop_.refresh_now(), n)) {
      co_return reject(408, slow);
    }
    client_.used += n;
    if (n > 0) co_return Step::ok;
  }
}

Task<Exchange::Step> Exchange::send_length_body(std::uint64_t length) {
  Socket& up = conn_->socket();
  std::string_view head(scratch_.data(), request_head_len_);
  request_body_started_ = true;
  std::uint64_t remaining = length;
  while (true) {
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining, client_.used));
    if (take > 0 || !head.empty()) {
      hold_body(std::string_view(client_.buf.data(), take));
      auto w = co_await up.write(head, std::string_view(client_.buf.data(), take),
                                 backend_.idle_timeout_ms);
      if (!w) co_return Step::backend_failed;
      head = {};
      drop_client_bytes(take);
      remaining -= take;
    }
    if (remaining == 0) break;
    if (const Step s = co_await read_client_body(); s != Step::ok) co_return s;
  }
  client_body_read_ = true;
  request_body_sent_ = true;
  co_return Step::ok;
}

Task<Exchange::Step> Exchange::send_chunked_body() {
  // The chunks go to the backend as they came, once the decoder has checked
  // them: sizes, extensions and trailers are validated, never guessed.
  Socket& up = conn_->socket();
  std::string_view head(scratch_.data(), request_head_len_);
  request_body_started_ = true;
  http::ChunkedDecoder decoder;
  while (true) {
    std::size_t checked = 0;
    bool done = false;
    while (checked < client_.used && !done) {
      const auto step =
          decoder.decode(std::string_view(client_.buf.data() + checked, client_.used - checked));
      if (step.error) {
        spdlog::debug("listener '{}': chunked request body: {}", client_.listener.name,
                      step.reason);
        co_return reject(400, "malformed chunked request body");
      }
      checked += step.consumed;
      done = step.done;
      if (step.consumed == 0) break;
    }
    const auto& limit = client_.listener.max_body_bytes;
    if (limit && decoder.body_bytes() > *limit) {
      co_return reject(413, "request body larger than the listener allows");
    }
    if (checked > 0 || !head.empty()) {
      hold_body(std::string_view(client_.buf.data(), checked));
      auto w = co_await up.write(head, std::string_view(client_.buf.data(), checked),
                                 backend_.idle_timeout_ms);
      if (!w) co_return Step::backend_failed;
      head = {};
      drop_client_bytes(checked);
    }
    if (done) break;
    if (const Step s = co_await read_client_body(); s != Step::ok) co_return s;
  }
  client_body_read_ = true;
  request_body_sent_ = true;
  co_return Step::ok;
}

Exchange::Step Exchange::reject(int status, const char* reason) {
  reject_status_ = status;
  reject_reason_ = reason;
  return Step::rejected;
}

ForwardResult Exchange::fail(int status, const char* reason, const char* detail) {
  spdlog::warn("listener '{}' route '{}' backend '{}' server {}: {} {} ({}{}{})",
               client_.listener.name, route_.name, backend_.name,
               server_ != nullptr ? server_->address : std::string("-"), status,
               http::reason_phrase(status), reason, detail != nullptr ? "; " : "",
               detail != nullptr ? detail : "");
  retire_backend();
  ForwardResult r;
  r.next = ForwardResult::Next::close;
  r.error_status = status;
  r.error_reason = reason;
  return r;
}

void Exchange::retire_backend() {
  conn_.reset();
  uused_ = 0;
}

// At a clean message boundary with nothing unread the connection goes back
// to the pool, before the last bytes reach the client, so the next request
// of any client on this worker can use it.
void Exchange::finish_backend() {
  if (!conn_) return;
  if (backend_clean_ && request_body_sent_ && backend_.pool.reuse != ReuseMode::never &&
      server_->send_proxy == ProxyHeaderVersion::none) {
    conn_->count_exchange();
    conn_->socket().bind_cancel(nullptr);
    ctx_.pool.put(std::move(conn_), backend_.pool);
  }
  conn_.reset();
}

}  // namespace sluice::proxy
