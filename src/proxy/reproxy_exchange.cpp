// The exchange's reproxy step (reproxy.h): after a backend's response
// asked for something else to be served, its body is drained (its
// connection may go back to the pool) and the client gets, instead, the
// first X-Reproxy-URL that works, the route an X-Accel-Redirect names, or
// a file. Members of Exchange, kept here so exchange.cpp only calls in.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/buffer_pool.h"
#include "core/event_loop.h"
#include "http/serializer.h"
#include "http/token.h"
#include "proxy/downstream.h"
#include "proxy/exchange.h"
#include "proxy/reproxy.h"
#include "proxy/request_routing.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"
#include "route/route_table.h"

namespace sluice::proxy {

// The primary response's fields the client still gets (issue 18): its
// Content-Type, Content-Disposition, Cache-Control and Set-Cookie, copied
// (its head is gone once its body is drained).
struct ReproxyPrimary {
  std::vector<std::pair<std::string, std::string>> fields;
};

namespace {

// A primary body beyond this is not drained: its connection closes.
constexpr std::size_t kMaxDrainBytes = 64 * 1024;
// Termination codes: the backend asked for something refused, or nothing
// it named could be served.
constexpr std::string_view kRefusedCode = "SH";

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::iequals(s.substr(0, prefix.size()), prefix);
}

bool kept_from_primary(std::string_view name) {
  return http::iequals(name, "content-type") || http::iequals(name, "content-disposition") ||
         http::iequals(name, "cache-control") || http::iequals(name, "set-cookie");
}

// A fetched response's fields the client gets: those describing what was
// fetched (RFC 9110 §8.8, §14.4).
bool kept_from_fetch(std::string_view name) {
  return http::iequals(name, "content-range") || http::iequals(name, "etag") ||
         http::iequals(name, "last-modified") || http::iequals(name, "accept-ranges");
}

// RFC 9110 §15: 2xx and 416 are what the URL serves; 304 and 412 answer
// the client's own preconditions, which the fetch passed on.
bool serves(int status) {
  return status / 100 == 2 || status == 416 || status == 304 || status == 412;
}

// The whole size a fetched response names: Content-Length for a 200,
// Content-Range's complete length for a 206. Empty: unknown.
std::optional<std::uint64_t> fetched_size(const http::ResponseHead& head) {
  if (head.status == 206) {
    for (const auto& f : head.fields) {
      if (!http::iequals(f.name, "content-range")) continue;
      const auto slash = f.value.rfind('/');
      if (slash == std::string_view::npos) return std::nullopt;
      std::uint64_t n = 0;
      const std::string_view s = f.value.substr(slash + 1);
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
      return n;
    }
    return std::nullopt;
  }
  if (head.framing == http::Framing::content_length) return head.content_length;
  for (const auto& f : head.fields) {  // a HEAD's Content-Length
    if (!http::iequals(f.name, "content-length")) continue;
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
    if (ec == std::errc{} && end == f.value.data() + f.value.size()) return n;
  }
  return std::nullopt;
}

// RFC 9110 §5.6.7: an IMF-fixdate.
std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::array<char, 40> out{};
  const std::size_t n = std::strftime(out.data(), out.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(out.data(), n);
}

// One fetch of one URL: a connection from the origin's pool (or a new
// one), a GET or HEAD, and the response head. Owned by the exchange's
// frame while its body streams.
class ReproxyFetch {
 public:
  ReproxyFetch(WorkerContext& ctx, EventLoop& loop, BufferPool& buffers, const Backend& origin,
               CancelToken* cancel)
      : loop_(loop),
        origin_(origin),
        connector_(ctx, loop, origin, cancel),
        upstream_(loop, buffers, nullptr, origin.idle_timeout_ms) {}
  ~ReproxyFetch() { finish(false); }
  ReproxyFetch(const ReproxyFetch&) = delete;
  ReproxyFetch& operator=(const ReproxyFetch&) = delete;

  // Null with `why` set when the URL cannot be fetched (no connection, no
  // answer). A pooled connection that fails before any answer is retried
  // once on a new one: it may have been closed while idle.
  Task<const http::ResponseHead*> start(const http::OutgoingRequest& req, http::Method method,
                                        const char*& why) {
    if (!upstream_.prepare(req)) {
      why = "request head too large";
      co_return nullptr;
    }
    if (!connector_.pick(0)) {
      why = "the target's address did not resolve";
      co_return nullptr;
    }
    bool pooled = origin_.pool.reuse != ReuseMode::never;
    for (int attempt = 0; attempt < 2; ++attempt) {
      UpstreamConnector::ConnectOptions options;
      options.reuse = choose_reuse(origin_.pool.reuse, true, !pooled, false);
      conn_ = co_await connector_.connect(options);
      if (!conn_) {
        why = connector_.connect_error().reason;
        co_return nullptr;
      }
      const bool reused = connector_.reused();
      upstream_.attach(*conn_);
      upstream_.queue_head();
      const bool sent = co_await upstream_.send_body({}, true);
      if (sent) {
        const std::uint64_t deadline = loop_.now_ms() + origin_.response_timeout_ms;
        while (true) {
          const HeadRead h = co_await upstream_.read_head(deadline, fields_, method);
          if (h.failed) {
            why = h.error.reason;
            break;
          }
          if (h.head->status >= 200) co_return h.head;  // 1xx: skipped
        }
      } else {
        why = "cannot send the request";
      }
      conn_.reset();
      if (!reused || upstream_.answer_started()) co_return nullptr;
      pooled = false;
    }
    co_return nullptr;
  }
  Task<BodyPiece> read_body() { return upstream_.read_body(); }
  // Ends the connection's use: back to the pool after a clean end.
  void finish(bool clean) {
    if (conn_) connector_.finish(std::move(conn_), clean && upstream_.reusable());
    conn_.reset();
    connector_.release();
  }

 private:
  EventLoop& loop_;
  const Backend& origin_;
  UpstreamConnector connector_;
  Http1Upstream upstream_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::array<http::HeaderField, 100> fields_;
};

// Streams a fetched response to the client under the primary's fields.
Task<ExchangeEnd> relay_fetched(Downstream& down, ReproxyFetch& fetch,
                                const http::ResponseHead& head, const ReproxyPrimary& primary,
                                bool head_only, std::string_view route) {
  std::vector<http::HeaderField> fields;
  fields.reserve(primary.fields.size() + 6);
  for (const auto& [name, value] : primary.fields)
    fields.push_back({name, value});
  for (const auto& f : head.fields) {
    if (kept_from_fetch(f.name)) fields.push_back(f);
  }
  http::OutgoingResponse res;
  res.status = head.status;
  switch (head.framing) {
    case http::Framing::content_length:
      res.body = http::BodyKind::sized;
      res.length = head.content_length;
      break;
    case http::Framing::chunked:
    case http::Framing::close_delimited:
      res.body = http::BodyKind::streamed;
      break;
    case http::Framing::none:
      res.body = http::BodyKind::none;
      // RFC 9110 §8.6: a HEAD's Content-Length describes the GET's body.
      for (const auto& f : head.fields) {
        if (head_only && http::iequals(f.name, "content-length")) fields.push_back(f);
      }
      break;
  }
  res.fields = fields;
  if (res.body == http::BodyKind::none) {
    const BodyPiece end = co_await fetch.read_body();
    fetch.finish(!end.failed && end.end);
  }
  if (down.queue_head(res) == HeadSent::too_large) {
    spdlog::warn("route '{}': 502 Bad Gateway (reproxied response head too large)", route);
    co_return ExchangeEnd{ExchangeEnd::Then::close, 502, "reproxied response head too large",
                          kRefusedCode};
  }
  if (res.body == http::BodyKind::none) {
    if (!co_await down.send_body({}, true))
      co_return ExchangeEnd{ExchangeEnd::Then::close, 0, "", "CD"};
    co_return ExchangeEnd{};
  }
  bool started = false;
  while (true) {
    const BodyPiece piece = co_await fetch.read_body();
    if (piece.failed) {
      spdlog::warn("route '{}': reproxied response cut off ({})", route, piece.error.reason);
      fetch.finish(false);
      if (!started) {
        co_return ExchangeEnd{ExchangeEnd::Then::close, 502, "reproxied response cut off", "SD"};
      }
      co_return ExchangeEnd{ExchangeEnd::Then::close_now, 0, "", "SD"};
    }
    if (piece.end) fetch.finish(true);
    started = true;
    if (!co_await down.send_body(piece.data, piece.end)) {
      co_return ExchangeEnd{ExchangeEnd::Then::close, 0, "", "CD"};
    }
    if (piece.end) co_return ExchangeEnd{};
  }
}

}  // namespace

Task<ExchangeEnd> Exchange::relay_reproxied(const http::ResponseHead& head,
                                            std::shared_ptr<const ReproxyPlan> plan,
                                            ReproxyAsk& ask) {
  ReproxyPrimary primary;
  for (const auto& f : head.fields) {
    if (kept_from_primary(f.name)) primary.fields.emplace_back(f.name, f.value);
  }
  // The primary's body is not the client's. Drained, its connection can
  // serve another request; a long one is not worth the wait.
  std::size_t drained = 0;
  bool clean = true;
  while (true) {
    const BodyPiece piece = co_await codec_read_body();
    if (piece.failed) {
      clean = false;
      break;
    }
    drained += piece.data.size();
    if (piece.end) break;
    if (drained > kMaxDrainBytes) {
      clean = false;
      break;
    }
  }
  if (clean) {
    finish_connection(codec_reusable());
  } else {
    retire_connection();
  }
  connector_.release();
  switch (ask.kind) {
    case ReproxyAsk::Kind::urls:
      co_return co_await reproxy_urls(*plan, ask, primary);
    case ReproxyAsk::Kind::accel_redirect:
      co_return co_await reproxy_accel(ask);
    case ReproxyAsk::Kind::file:
      co_return co_await reproxy_file(*plan, ask, primary);
    case ReproxyAsk::Kind::none:
      break;
  }
  co_return co_await answer_reproxy_failure(502, "nothing to reproxy");
}

// Nothing reached the client: the session answers `status` and closes.
Task<ExchangeEnd> Exchange::answer_reproxy_failure(int status, const char* reason) {
  spdlog::warn("listener '{}' route '{}' backend '{}': {} {} ({})", listener_.name, route_.name,
               backend_.name, status, http::reason_phrase(status), reason);
  co_return ExchangeEnd{ExchangeEnd::Then::close, status, reason, kRefusedCode};
}

Task<ExchangeEnd> Exchange::reproxy_urls(const ReproxyPlan& plan, const ReproxyAsk& ask,
                                         const ReproxyPrimary& primary) {
  // Range and the preconditions (RFC 9110 §13.1, §14.2) go with each
  // fetch: the client asked them of what it gets.
  std::vector<http::HeaderField> passed;
  for (const auto& f : client_head_.fields) {
    if (http::iequals(f.name, "range") || starts_with_nocase(f.name, "if-")) passed.push_back(f);
  }
  const bool head_only = method_ == http::Method::HEAD;
  const http::Method method = head_only ? http::Method::HEAD : http::Method::GET;
  int allowed = 0;
  std::string_view rest = ask.value;
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = rest.find_first_of(" \t");
    const std::string_view text = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    ReproxyUrl url;
    if (!parse_reproxy_url(text, url)) {
      spdlog::warn("listener '{}' route '{}': X-Reproxy-URL {} refused: not an http URL",
                   listener_.name, route_.name, text);
      continue;
    }
    const ReproxyTarget* target = allowed_target(plan, url);
    if (target == nullptr) {
      // The SSRF guard: whatever a backend says, sluice fetches only what
      // the configuration allows.
      spdlog::warn("listener '{}' route '{}': X-Reproxy-URL {} refused: not under reproxy.allow",
                   listener_.name, route_.name, text);
      continue;
    }
    ++allowed;
    http::OutgoingRequest req;
    req.method = head_only ? "HEAD" : "GET";
    req.target = url.target;
    req.authority = url.authority;
    req.fields = passed;
    auto fetch =
        std::make_unique<ReproxyFetch>(ctx_, loop_, *in_.buffers, *target->backend, in_.cancel);
    const char* why = "";
    const http::ResponseHead* got = co_await fetch->start(req, method, why);
    if (got == nullptr) {
      spdlog::info("listener '{}' route '{}': X-Reproxy-URL {} failed ({}); trying the next",
                   listener_.name, route_.name, text, why);
      continue;
    }
    if (!serves(got->status)) {
      spdlog::info("listener '{}' route '{}': X-Reproxy-URL {} answered {}; trying the next",
                   listener_.name, route_.name, text, got->status);
      continue;
    }
    if (ask.expected_size && (got->status == 200 || got->status == 206)) {
      const std::optional<std::uint64_t> size = fetched_size(*got);
      if (!size || *size != *ask.expected_size) {
        spdlog::info(
            "listener '{}' route '{}': X-Reproxy-URL {} is not of the expected size {}; trying "
            "the next",
            listener_.name, route_.name, text, *ask.expected_size);
        continue;
      }
    }
    response_started_ = true;
    co_return co_await relay_fetched(down_, *fetch, *got, primary, head_only, route_.name);
  }
  if (allowed == 0) {
    co_return co_await answer_reproxy_failure(502, "X-Reproxy-URL named no allowed target");
  }
  co_return co_await answer_reproxy_failure(503, "no X-Reproxy-URL could be fetched");
}

Task<ExchangeEnd> Exchange::reproxy_accel(const ReproxyAsk& ask) {
  if (ask.value.front() != '/') {
    co_return co_await answer_reproxy_failure(502, "X-Accel-Redirect is not a path");
  }
  const std::shared_ptr<const Snapshot> now = ctx_.snapshot;
  if (!now->in_slot(listener_.slot)) {
    co_return co_await answer_reproxy_failure(503, "this listener was removed by a reload");
  }
  // The client's request, as GET (or HEAD) of the path, without a body.
  std::vector<http::HeaderField> fields;
  fields.reserve(client_head_.fields.size());
  for (const auto& f : client_head_.fields) {
    if (http::iequals(f.name, "content-length") || http::iequals(f.name, "transfer-encoding") ||
        http::iequals(f.name, "expect")) {
      continue;
    }
    fields.push_back(f);
  }
  http::RequestHead sub = client_head_;
  const bool head_only = method_ == http::Method::HEAD;
  sub.method = head_only ? http::Method::HEAD : http::Method::GET;
  sub.method_text = head_only ? "HEAD" : "GET";
  sub.target = ask.value;
  sub.fields = fields;
  sub.framing = http::Framing::none;
  sub.content_length = 0;
  sub.expect_continue = false;
  sub.upgrade = false;
  auto t = std::make_unique<RequestTarget>();
  if (resolve_target(sub, listener_, *t) != route::PathError::none) {
    co_return co_await answer_reproxy_failure(502, "X-Accel-Redirect names an invalid path");
  }
  t->view.internal = true;  // the one lookup that sees internal routes
  route::Captures captures;
  std::shared_ptr<const Backend> backend;
  std::shared_ptr<const route::Route> route =
      find_route(*now, listener_.slot, sub, t->view, captures, backend);
  if (route == nullptr) {
    co_return co_await answer_reproxy_failure(404, "X-Accel-Redirect matches no route");
  }
  if (route->action != route::ActionKind::backend || !backend) {
    co_return co_await answer_reproxy_failure(502,
                                              "X-Accel-Redirect reached a route without a backend");
  }
  if (!apply_rewrite(*route, captures, *t)) {
    co_return co_await answer_reproxy_failure(502, "X-Accel-Redirect's route rewrites it badly");
  }
  ExchangeInputs in = in_;
  in.route = std::move(route);
  in.backend = std::move(backend);
  in.edits = nullptr;
  in.reproxied = true;  // loop guard: its own X-Accel-Redirect is not followed
  auto redirected = std::make_unique<Exchange>(std::move(in), down_, sub, t->target);
  co_return co_await redirected->run();
}

Task<ExchangeEnd> Exchange::reproxy_file(const ReproxyPlan& plan, const ReproxyAsk& ask,
                                         const ReproxyPrimary& primary) {
  if (plan.files_root_fd < 0) {
    co_return co_await answer_reproxy_failure(503, "reproxy files.root cannot be opened");
  }
  std::string relative(ask.value);
  while (!relative.empty() && relative.front() == '/')
    relative.erase(0, 1);
  if (relative.empty()) co_return co_await answer_reproxy_failure(404, "no file named");
  // openat2(2) with RESOLVE_BENEATH: the kernel refuses "..", absolute
  // symlinks and any symlink leading out of the root as it opens, so no
  // check-then-open race lets a swapped symlink out.
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const int fd = static_cast<int>(
      ::syscall(SYS_openat2, plan.files_root_fd, relative.c_str(), &how, sizeof how));
  if (fd < 0) {
    const int e = errno;
    if (e == EXDEV || e == ELOOP) {
      co_return co_await answer_reproxy_failure(502, "X-Reproxy-File leads out of files.root");
    }
    if (e == ENOENT || e == ENOTDIR) {
      co_return co_await answer_reproxy_failure(404, "X-Reproxy-File names no file");
    }
    co_return co_await answer_reproxy_failure(403, "X-Reproxy-File cannot be opened");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    co_return co_await answer_reproxy_failure(404, "X-Reproxy-File names no regular file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  // RFC 9110 §13.1.5: with If-Range the client wants the whole file
  // unless its validator matches; serving it whole is always correct.
  std::string_view range;
  bool if_range = false;
  for (const auto& f : client_head_.fields) {
    if (http::iequals(f.name, "range")) range = f.value;
    if (http::iequals(f.name, "if-range")) if_range = true;
  }
  const ByteRange br = range.empty() || if_range ? ByteRange{} : parse_byte_range(range, size);
  std::vector<http::HeaderField> fields;
  for (const auto& [name, value] : primary.fields)
    fields.push_back({name, value});
  const std::string modified = http_date(st.st_mtime);
  fields.push_back({"Last-Modified", modified});
  fields.push_back({"Accept-Ranges", "bytes"});
  std::string content_range;
  http::OutgoingResponse res;
  std::uint64_t offset = 0;
  std::uint64_t length = size;
  switch (br.kind) {
    case ByteRange::Kind::whole:
      res.status = 200;
      break;
    case ByteRange::Kind::part:
      res.status = 206;
      offset = br.first;
      length = br.last - br.first + 1;
      content_range = "bytes " + std::to_string(br.first) + "-" + std::to_string(br.last) + "/" +
                      std::to_string(size);
      break;
    case ByteRange::Kind::unsatisfiable:
      res.status = 416;  // RFC 9110 §15.5.17
      length = 0;
      content_range = "bytes */" + std::to_string(size);
      break;
  }
  if (!content_range.empty()) fields.push_back({"Content-Range", content_range});
  const bool head_only = method_ == http::Method::HEAD;
  const std::string length_text = std::to_string(length);
  if (head_only) {
    // RFC 9110 §8.6: what a GET would have sent.
    fields.push_back({"Content-Length", length_text});
    res.body = http::BodyKind::none;
  } else {
    res.body = http::BodyKind::sized;
    res.length = length;
  }
  res.fields = fields;
  if (down_.queue_head(res) == HeadSent::too_large) {
    co_return co_await answer_reproxy_failure(502, "reproxied response head too large");
  }
  response_started_ = true;
  bool sent = false;
  if (head_only || length == 0) {
    sent = co_await down_.send_body({}, true);
  } else {
    sent = co_await down_.send_file(fd, offset, length);
  }
  if (!sent) co_return ExchangeEnd{ExchangeEnd::Then::close, 0, "", "CD"};
  co_return ExchangeEnd{};
}

}  // namespace sluice::proxy
