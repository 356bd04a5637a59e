#include "admin/admin_server.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <array>
#include <cassert>
#include <cstring>
#include <span>
#include <string>

#include "admin/admin_http.h"
#include "admin/endpoints.h"
#include "config/model.h"
#include "core/address.h"
#include "core/buffer_pool.h"
#include "core/listener.h"
#include "core/socket.h"
#include "core/worker.h"
#include "http/parser.h"
#include "http/serializer.h"

namespace sluice::admin {
namespace {

// After refusing a request, the connection is kept this long to read and
// drop what the client is still sending: closing with unread bytes would
// reset the connection, and the client could lose the answer with it
// (RFC 9112 §9.6).
constexpr std::uint64_t kLingerMs = 2'000;
constexpr std::size_t kLingerMaxBytes = 64 * 1024 * 1024;

// One admin connection: requests one after another, each read whole (head
// and body) within admin.request_timeout before it is handled.
//
// Lifetime: the object lives in serve_admin's frame, which awaits every
// coroutine of it, so `this` outlives them all.
class AdminConnection {
 public:
  AdminConnection(ConnectionScope& scope, int fd, AdminServer& admin)
      : scope_(scope),
        admin_(admin),
        sock_(scope.worker().loop(), fd),
        peer_(SocketAddress::peer_of(fd).to_string()),
        local_(SocketAddress::local_of(fd)),
        policy_(admin.policy()) {
    sock_.bind_cancel(&scope.cancel_token());
  }

  Task<void> serve();

 private:
  enum class Got : std::uint8_t {
    ok,
    closed,     // the peer closed, reset, or we are stopping
    timed_out,  // the deadline passed
    too_large,  // the body is over admin.max_body
    malformed,  // the chunked framing is broken; see reason_
  };

  Task<bool> wait_for_request();
  Task<bool> serve_request(std::span<http::HeaderField> fields);
  Task<Got> read_more();
  Task<bool> read_head(http::RequestParser& parser);
  Task<Got> read_body(BodyReader& reader);
  Task<bool> read_request_body(const AdminRequest& req, std::string& body);
  Task<void> refuse(const AdminResponse& r, const std::string& what, const std::string& why);
  Task<bool> send(const AdminResponse& r, bool keep_alive);
  void start_clock() { deadline_ = loop().now_ms() + policy_->request_timeout_ms; }
  // Milliseconds until the deadline; at least 1 (0 means "no timeout").
  std::uint64_t left_ms() const {
    const std::uint64_t now = scope_.worker().loop().now_ms();
    return deadline_ > now ? deadline_ - now : 1;
  }
  bool past_deadline() const { return scope_.worker().loop().now_ms() >= deadline_; }
  EventLoop& loop() { return scope_.worker().loop(); }
  std::string_view unread() const { return {buf_.data(), used_}; }
  void drop(std::size_t n) {
    assert(n <= used_);
    std::memmove(buf_.data(), buf_.data() + n, used_ - n);
    used_ -= n;
  }

  ConnectionScope& scope_;
  AdminServer& admin_;
  Socket sock_;
  std::string peer_;
  SocketAddress local_;
  std::shared_ptr<const AdminPolicy> policy_;  // for the request being read
  Buffer buf_;
  std::size_t used_ = 0;
  std::uint64_t deadline_ = 0;   // loop time by which the request must have arrived
  bool answering_head_ = false;  // the request being answered is a HEAD
  const char* reason_ = "";
};

Task<AdminConnection::Got> AdminConnection::read_more() {
  // A full buffer would be read into an empty span, which looks like EOF.
  assert(used_ < buf_.capacity());
  if (past_deadline()) co_return Got::timed_out;
  auto r =
      co_await sock_.read(std::span<char>(buf_.data() + used_, buf_.capacity() - used_), left_ms());
  if (!r) co_return r.code() == Errc::timeout ? Got::timed_out : Got::closed;
  used_ += *r;
  co_return Got::ok;
}

// The body, de-chunked, after the head's bytes were dropped from buf_.
// Bytes after it (a pipelined request) stay in buf_.
Task<AdminConnection::Got> AdminConnection::read_body(BodyReader& reader) {
  while (true) {
    const BodyReader::Step step = reader.take(unread(), buf_.capacity());
    drop(step.consumed);
    switch (step.state) {
      case BodyReader::State::need_more:
        break;
      case BodyReader::State::done:
        co_return Got::ok;
      case BodyReader::State::too_large:
        co_return Got::too_large;
      case BodyReader::State::malformed:
        reason_ = reader.reason();
        co_return Got::malformed;
    }
    if (const Got got = co_await read_more(); got != Got::ok) co_return got;
  }
}

Task<bool> AdminConnection::send(const AdminResponse& r, bool keep_alive) {
  start_clock();  // a client that does not read its answers is cut off too
  const std::string head = response_head(r, keep_alive);
  // RFC 9110 §9.3.2: a response to HEAD has no content (its length stays).
  const std::string_view body = answering_head_ ? std::string_view() : std::string_view(r.body);
  co_return static_cast<bool>(co_await sock_.write(head, body, left_ms()));
}

// Answers and closes. The connection lingers, dropping what the client
// still sends, so that it reads the answer instead of a reset.
Task<void> AdminConnection::refuse(const AdminResponse& r, const std::string& what,
                                   const std::string& why) {
  spdlog::warn("admin: {} from {}: {} {} ({})", what, peer_, r.status,
               http::reason_phrase(r.status), why);
  if (!co_await send(r, false)) co_return;
  sock_.shutdown_write();
  deadline_ = loop().now_ms() + kLingerMs;
  std::size_t dropped = 0;
  while (dropped < kLingerMaxBytes && !past_deadline()) {
    auto n = co_await sock_.read(std::span<char>(buf_.data(), buf_.capacity()), left_ms());
    if (!n) break;
    dropped += *n;
  }
}

// Reads until `parser` has a whole head. False when the connection is to
// close: the client left, or was refused (431, 408, or the parser's 4xx).
Task<bool> AdminConnection::read_head(http::RequestParser& parser) {
  http::ParseState state;
  while ((state = parser.parse(unread())) == http::ParseState::need_more) {
    if (used_ == buf_.capacity()) {
      co_await refuse({431, "text/plain", "request head too large\n"}, "request",
                      "head over " + std::to_string(buf_.capacity()) + " bytes");
      co_return false;
    }
    const Got got = co_await read_more();
    if (got == Got::timed_out) {
      co_await refuse({408, "text/plain", "the request took too long to arrive\n"}, "request",
                      "head incomplete after admin.request_timeout");
    }
    if (got != Got::ok) co_return false;
  }
  if (state == http::ParseState::error) {
    co_await refuse(
        {parser.error().status, "text/plain", std::string(parser.error().reason) + "\n"}, "request",
        parser.error().reason);
    co_return false;
  }
  co_return true;
}

// read_body(), answering what goes wrong. False when the connection is to close.
Task<bool> AdminConnection::read_request_body(const AdminRequest& req, std::string& body) {
  BodyReader reader(req, policy_->max_body);
  // Awaited apart from the switch: with `switch (co_await ...)` GCC 12 built
  // a coroutine that never went on after read_body() returned (seen here).
  const Got got = co_await read_body(reader);
  switch (got) {
    case Got::ok:
      body = std::move(reader.body());
      co_return true;
    case Got::closed:
      break;
    case Got::timed_out:
      co_await refuse({408, "text/plain", "the request took too long to arrive\n"}, req.line(),
                      "body incomplete after admin.request_timeout");
      break;
    case Got::too_large:
      co_await refuse({413, "text/plain", "body too large (admin.max_body)\n"}, req.line(),
                      "chunked body over admin.max_body " + std::to_string(policy_->max_body));
      break;
    case Got::malformed:
      co_await refuse({400, "text/plain", std::string(reason_) + "\n"}, req.line(), reason_);
      break;
  }
  co_return false;
}

Task<void> AdminConnection::serve() {
  const std::size_t open = scope_.worker().connection_count();  // this one included
  if (!policy_->admits_connection(open)) {
    // A client holding connections open cannot lock the operator out for
    // longer than admin.request_timeout.
    spdlog::warn("admin: refusing a connection from {}: {} open, admin.max_connections is {}",
                 peer_, open - 1, policy_->max_connections);
    static_cast<void>(
        co_await send({503, "text/plain", "too many admin connections; try again\n"}, false));
    co_return;
  }
  buf_ = scope_.worker().buffers().acquire();
  std::array<http::HeaderField, 64> fields;
  while (true) {
    if (!co_await wait_for_request()) co_return;
    if (!co_await serve_request(fields)) co_return;
  }
}

// Starts the next request's clock, at its first byte when none is here
// yet. False when the connection is to close.
Task<bool> AdminConnection::wait_for_request() {
  policy_ = admin_.policy();  // a reload's settings apply from the next request
  start_clock();
  if (used_ > 0) co_return true;  // pipelined
  // Between requests: an idle connection closes quietly.
  scope_.set_idle(true);
  const Got got = co_await read_more();
  scope_.set_idle(false);
  if (got != Got::ok) co_return false;
  start_clock();  // the request's time runs from its first byte
  co_return true;
}

// One request: its head, the checks of access.h, its body, its answer.
// False when the connection is to close.
Task<bool> AdminConnection::serve_request(std::span<http::HeaderField> fields) {
  http::RequestParser parser({8 * 1024, buf_.capacity(), fields.size()}, fields);
  if (!co_await read_head(parser)) co_return false;
  const http::RequestHead& head = parser.head();
  const AdminRequest req = AdminRequest::from(head);
  answering_head_ = head.method == http::Method::HEAD;
  if (auto refusal = check_access(*policy_, head, local_)) {
    co_await refuse(refusal->response, req.line(), refusal->why);
    co_return false;
  }
  drop(parser.head_bytes());  // `head` is gone from here on
  if (req.sends_continue(used_)) {
    constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!co_await sock_.write(kContinue, left_ms())) co_return false;
  }
  std::string body;
  if (!co_await read_request_body(req, body)) co_return false;
  const AdminResponse response =
      handle_request(req.method, req.target, body, admin_.server(), admin_.reloader());
  // Reads that succeed are what a dashboard or a scraper sends every few
  // seconds: debug. Changes and failures stay at info.
  const bool routine = (req.method == "GET" || req.method == "HEAD") && response.status < 400;
  spdlog::log(routine ? spdlog::level::debug : spdlog::level::info, "admin: {} -> {} (from {})",
              req.line(), response.status, peer_);
  const bool keep_alive = req.keep_alive && !scope_.worker().stopping();
  if (!co_await send(response, keep_alive)) co_return false;
  co_return keep_alive;
}

Task<void> serve_admin(ConnectionScope& scope, int fd, AdminServer& admin) {
  AdminConnection connection(scope, fd, admin);
  co_await connection.serve();
}

}  // namespace

AdminServer::AdminServer(proxy::Server& server, proxy::Reloader& reloader,
                         const config::Admin& settings)
    : server_(server),
      reloader_(reloader),
      listen_(settings.listen),
      policy_(std::make_shared<const AdminPolicy>(AdminPolicy::from(settings))) {}

AdminServer::~AdminServer() {
  if (worker_) {
    worker_->request_stop(0);
    worker_->join();
  }
}

void AdminServer::configure(const config::Admin& settings) {
  auto next = std::make_shared<const AdminPolicy>(AdminPolicy::from(settings));
  std::lock_guard lock(mutex_);
  policy_ = std::move(next);
}

std::shared_ptr<const AdminPolicy> AdminServer::policy() const {
  std::lock_guard lock(mutex_);
  return policy_;
}

bool AdminServer::start(int inherited_fd, std::string& error) {
  int fd = inherited_fd;
  if (fd < 0) {
    auto addr = SocketAddress::resolve(listen_);
    if (!addr) {
      error = "admin: cannot resolve address " + listen_;
      return false;
    }
    auto opened = open_listening_socket(*addr, 128);
    if (!opened) {
      error = "admin: cannot listen on " + listen_ + ": " + std::strerror(opened.error().sys_errno);
      return false;
    }
    fd = *opened;
  }
  fd_ = fd;
  worker_ = std::make_unique<Worker>(0, nullptr);
  worker_->set_handler(
      [this](ConnectionScope& scope, int conn) { return serve_admin(scope, conn, *this); });
  worker_->add_listener(0, fd);
  worker_->start();
  spdlog::info("admin listening on {}", SocketAddress::local_of(fd).to_string());
  return true;
}

void AdminServer::stop() {
  if (worker_) {
    Worker* w = worker_.get();
    w->loop().post([w] { w->stop_accepting(); });
  }
}

}  // namespace sluice::admin
