// The response side of a forwarded exchange: interim responses, the final
// head rewritten for the client's hop, and the body streamed with the
// framing the client's connection needs (RFC 9112 §6.3, §7).
#include <spdlog/spdlog.h>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/socket.h"
#include "core/worker.h"
#include "http/head_writer.h"
#include "http/hop_by_hop.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "http/token.h"
#include "proxy/connection_fields.h"
#include "proxy/exchange.h"
#include "proxy/snapshot.h"
#include "proxy/tunnel.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

constexpr std::string_view kChunkedField = "Transfer-Encoding: chunked\r\n";

void write_status_line(http::HeadWriter& w, const http::ResponseHead& head) {
  char line[32];
  const int n = std::snprintf(line, sizeof line, "HTTP/1.1 %d ", head.status);
  w.put(std::string_view(line, static_cast<std::size_t>(n)));
  w.put(head.reason.empty() ? std::string_view(http::reason_phrase(head.status)) : head.reason);
  w.put("\r\n");
}

// Copies the end-to-end fields. Content-Length is passed only where it
// describes a body that is not sent (HEAD, 304); elsewhere we frame.
void copy_fields(http::HeadWriter& w, const http::ResponseHead& head, bool pass_content_length,
                 bool keep_upgrade) {
  const http::HopByHopFields hop(head.fields);
  for (const auto& f : head.fields) {
    if (hop.contains(f.name) && !(keep_upgrade && http::iequals(f.name, "upgrade"))) continue;
    if (!pass_content_length && http::iequals(f.name, "content-length")) continue;
    w.field(f.name, f.value);
  }
}

}  // namespace

Task<Exchange::Step> Exchange::read_response_head(http::ResponseParser& parser) {
  const std::uint64_t per_try = backend_.retries.per_try_timeout_ms;
  const std::uint64_t deadline =
      loop_.now_ms() + (per_try > 0 ? per_try : backend_.response_timeout_ms);
  while (true) {
    http::ParseState state;
    while ((state = parser.parse(std::string_view(ubuf_.data(), uused_), method_)) ==
           http::ParseState::need_more) {
      if (uused_ == ubuf_.capacity()) co_return reject(502, "response head too large");
      const std::uint64_t now = loop_.now_ms();
      auto r = co_await conn_->socket().read(
          std::span<char>(ubuf_.data() + uused_, ubuf_.capacity() - uused_),
          deadline > now ? deadline - now : 1);
      if (!r) {
        if (r.code() == Errc::cancelled) co_return Step::client_failed;
        if (r.code() == Errc::timeout) co_return Step::timeout;
        co_return Step::backend_failed;
      }
      uused_ += *r;
    }
    if (state == http::ParseState::error) {
      spdlog::debug("route '{}' server {}: bad response: {}", route_.name, server_->address,
                    parser.error().reason);
      co_return reject(502, "invalid response from the server");
    }
    const http::ResponseHead& head = parser.head();
    if (head.status >= 200 || head.status == 101) co_return Step::ok;
    if (!co_await relay_interim(head, parser.head_bytes())) co_return Step::client_failed;
    const std::size_t n = parser.head_bytes();
    std::memmove(ubuf_.data(), ubuf_.data() + n, uused_ - n);
    uused_ -= n;
    parser.reset();
  }
}

// 1xx responses (100 Continue, 103 Early Hints) go on to the client as they
// come; RFC 9110 §15.2: never to an HTTP/1.0 client.
Task<bool> Exchange::relay_interim(const http::ResponseHead& head, std::size_t) {
  interim_relayed_ = true;
  if (client_minor_ == 0) co_return true;
  http::HeadWriter w(std::span<char>(scratch_.data(), scratch_.capacity()));
  write_status_line(w, head);
  copy_fields(w, head, false, false);
  w.put("\r\n");
  if (w.overflow()) co_return true;  // an oversized hint is dropped, not fatal
  co_return static_cast<bool>(
      co_await client_.sock.write(w.text(), client_.listener.body_timeout_ms));
}

std::size_t Exchange::build_response_head(const http::ResponseHead& head, std::string_view framing,
                                          bool pass_content_length, bool keep_alive) {
  http::HeadWriter w(std::span<char>(scratch_.data(), scratch_.capacity()));
  write_status_line(w, head);
  copy_fields(w, head, pass_content_length, false);
  if (set_sticky_cookie_) {
    // sticky: later requests carrying this cookie go to the same server.
    w.put("Set-Cookie: ");
    w.put(backend_.sticky_cookie);
    w.put("=");
    w.put(server_->sticky_id);
    w.put("; Path=/; HttpOnly\r\n");
  }
  w.put(framing);
  write_connection_fields(w, client_.listener, keep_alive, client_minor_);
  w.put("\r\n");
  return w.overflow() ? 0 : w.size();
}

// A server's "Keep-Alive: timeout=N" (RFC 2068 §19.7.1, still widely sent)
// says when it will close an idle connection; the pool retires it earlier.
void Exchange::note_keep_alive_hint(const http::ResponseHead& head) {
  if (!conn_) return;
  for (const auto& f : head.fields) {
    if (!http::iequals(f.name, "keep-alive")) continue;
    http::ListTokens params(f.value);
    std::string_view p;
    while (params.next(p)) {
      if (p.size() > 8 && http::iequals(p.substr(0, 8), "timeout=")) {
        std::uint64_t seconds = 0;
        auto [end, ec] = std::from_chars(p.data() + 8, p.data() + p.size(), seconds);
        if (ec == std::errc() && end == p.data() + p.size() && seconds < 86'400) {
          conn_->set_server_idle_timeout(seconds == 0 ? 1 : seconds * 1000);
        }
      }
    }
  }
}

Task<ForwardResult> Exchange::relay_response(const http::ResponseHead& head,
                                             std::size_t head_bytes) {
  // RFC 9112 §9.3: an HTTP/1.0 server, or one that said close, or a message
  // whose framing was doubtful, does not get another request.
  if (!head.keep_alive || head.must_close || head.version_minor == 0) backend_clean_ = false;
  note_keep_alive_hint(head);
  const bool client_11 = client_minor_ == 1;
  const bool stopping = client_.scope.worker().stopping();
  bool keep_alive = client_keep_alive_ && client_body_read_ && !stopping;
  // A body we can only end by closing (1.0 client, no chunked coding).
  const bool ends_by_close = !client_11 && (head.framing == http::Framing::chunked ||
                                            head.framing == http::Framing::close_delimited);
  if (ends_by_close) keep_alive = false;

  char length_field[48];
  std::string_view framing;
  if (head.framing == http::Framing::content_length) {
    const int n = std::snprintf(length_field, sizeof length_field, "Content-Length: %llu\r\n",
                                static_cast<unsigned long long>(head.content_length));
    framing = std::string_view(length_field, static_cast<std::size_t>(n));
  } else if (client_11 && (head.framing == http::Framing::chunked ||
                           head.framing == http::Framing::close_delimited)) {
    framing = kChunkedField;
  }
  // RFC 9110 §8.6: a HEAD or 304 response may carry the Content-Length of
  // the representation it did not send.
  const bool pass_length =
      head.framing == http::Framing::none && (method_ == http::Method::HEAD || head.status == 304);
  const std::size_t head_len = build_response_head(head, framing, pass_length, keep_alive);
  if (head_len == 0) co_return fail(502, "response head too large to forward");

  switch (head.framing) {
    case http::Framing::content_length:
      co_return co_await relay_length_body(head_len, head_bytes, head.content_length, keep_alive);
    case http::Framing::chunked:
      co_return co_await relay_chunked_body(head_len, head_bytes, client_11, keep_alive);
    case http::Framing::close_delimited:
      co_return co_await relay_until_close(head_len, head_bytes, client_11, keep_alive);
    default:
      break;
  }
  // RFC 9112 §6.3: responses to HEAD, and 1xx/204/304 responses, end with
  // their head whatever their fields say. Bytes after it are not a response
  // to anything: the connection is not reused.
  if (uused_ > head_bytes) backend_clean_ = false;
  finish_backend();
  if (!co_await write_to_client(std::string_view(scratch_.data(), head_len), {})) {
    co_return ForwardResult{};
  }
  co_return done(keep_alive);
}

Task<ForwardResult> Exchange::relay_length_body(std::size_t head_len, std::size_t body_start,
                                                std::uint64_t length, bool keep_alive) {
  std::string_view head(scratch_.data(), head_len);
  std::uint64_t remaining = length;
  std::size_t start = body_start;
  while (true) {
    const std::size_t avail = uused_ - start;
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(avail, remaining));
    if (avail > remaining) backend_clean_ = false;  // bytes beyond the body
    remaining -= take;
    if (remaining == 0) finish_backend();
    if (!co_await write_to_client(head, std::string_view(ubuf_.data() + start, take))) {
      co_return ForwardResult{};
    }
    head = {};
    if (remaining == 0) break;
    auto r = co_await read_backend();
    if (!r) co_return backend_broke(r.code() == Errc::closed ? "closed early" : "read failed");
    start = 0;
  }
  co_return done(keep_alive);
}

Task<ForwardResult> Exchange::relay_chunked_body(std::size_t head_len, std::size_t body_start,
                                                 bool chunked_to_client, bool keep_alive) {
  // To an HTTP/1.1 client the validated chunks pass as they are; to a 1.0
  // client only their data goes, and the end of the body is our close.
  std::string_view head(scratch_.data(), head_len);
  http::ChunkedDecoder decoder;
  std::size_t start = body_start;
  while (true) {
    std::size_t pos = start;
    std::size_t out = start;  // de-chunked data is compacted in place
    bool ended = false;
    while (pos < uused_ && !ended) {
      const auto step = decoder.decode(std::string_view(ubuf_.data() + pos, uused_ - pos));
      if (step.error) co_return backend_broke(step.reason);
      if (!chunked_to_client && step.data_bytes > 0) {
        std::memmove(ubuf_.data() + out, step.data.data(), step.data_bytes);
        out += step.data_bytes;
      }
      pos += step.consumed;
      ended = step.done;
      if (step.consumed == 0) break;
    }
    if (ended) {
      if (pos < uused_) backend_clean_ = false;
      finish_backend();
    }
    const std::size_t end = chunked_to_client ? pos : out;
    if (!co_await write_to_client(head, std::string_view(ubuf_.data() + start, end - start))) {
      co_return ForwardResult{};
    }
    head = {};
    if (ended) break;
    auto r = co_await read_backend();
    if (!r) co_return backend_broke(r.code() == Errc::closed ? "closed early" : "read failed");
    start = 0;
  }
  co_return done(keep_alive);
}

// RFC 9112 §6.3 rule 8: the body runs until the server closes. To an
// HTTP/1.1 client we send it chunked, so the client's connection survives.
Task<ForwardResult> Exchange::relay_until_close(std::size_t head_len, std::size_t body_start,
                                                bool chunked_to_client, bool keep_alive) {
  backend_clean_ = false;
  std::string_view head(scratch_.data(), head_len);
  std::size_t start = body_start;
  while (true) {
    const std::string_view data(ubuf_.data() + start, uused_ - start);
    char size_line[24];
    std::string_view size_piece;
    std::string_view crlf;
    if (chunked_to_client && !data.empty()) {
      size_piece = std::string_view(size_line, http::write_chunk_size(size_line, data.size()));
      crlf = "\r\n";
    }
    if (!head.empty() || !data.empty()) {
      if (!co_await write_to_client(head, size_piece, data, crlf)) co_return ForwardResult{};
    }
    head = {};
    auto r = co_await read_backend();
    if (!r) {
      if (r.code() != Errc::closed) co_return backend_broke("read failed");
      break;  // the server's close ends the body
    }
    start = 0;
  }
  finish_backend();
  if (!chunked_to_client) co_return done(false);
  if (!co_await write_to_client(http::kLastChunk, {})) co_return ForwardResult{};
  co_return done(keep_alive);
}

// RFC 9110 §7.8: after 101 the connection carries another protocol; we
// copy bytes both ways until both sides are done.
Task<ForwardResult> Exchange::relay_upgrade(const http::ResponseHead& head,
                                            std::size_t head_bytes) {
  if (!upgrade_) co_return fail(502, "the server switched protocols unasked");
  http::HeadWriter w(std::span<char>(scratch_.data(), scratch_.capacity()));
  write_status_line(w, head);
  copy_fields(w, head, false, true);
  w.put("Connection: upgrade\r\n\r\n");
  if (w.overflow()) co_return fail(502, "response head too large to forward");
  co_return co_await run_tunnel_after(w.text(), head_bytes);
}

// RFC 9110 §9.3.6: after a 2xx to CONNECT both connections are a tunnel.
// Such a response has no content and no framing fields; none are copied.
Task<ForwardResult> Exchange::relay_tunnel(const http::ResponseHead& head, std::size_t head_bytes) {
  http::HeadWriter w(std::span<char>(scratch_.data(), scratch_.capacity()));
  write_status_line(w, head);
  copy_fields(w, head, false, false);
  w.put("\r\n");
  if (w.overflow()) co_return fail(502, "response head too large to forward");
  co_return co_await run_tunnel_after(w.text(), head_bytes);
}

// Sends the response head and copies bytes both ways until both sides are
// done. The backend connection is retired at the end, never pooled.
Task<ForwardResult> Exchange::run_tunnel_after(std::string_view response_head,
                                               std::size_t head_bytes) {
  backend_clean_ = false;
  if (!co_await write_to_client(response_head,
                                std::string_view(ubuf_.data() + head_bytes, uused_ - head_bytes))) {
    co_return ForwardResult{};
  }
  Socket& up = conn_->socket();
  if (client_.used > 0) {
    if (!co_await up.write(std::string_view(client_.buf.data(), client_.used),
                           backend_.idle_timeout_ms)) {
      co_return backend_broke("write failed");
    }
    client_.used = 0;
  }
  co_await run_tunnel(client_.sock, up, std::span<char>(client_.buf.data(), client_.buf.capacity()),
                      std::span<char>(ubuf_.data(), ubuf_.capacity()),
                      client_.listener.idle_timeout_ms);
  retire_backend();
  ForwardResult r;
  r.next = ForwardResult::Next::abort;
  co_return r;
}

Task<bool> Exchange::write_to_client(std::string_view head, std::string_view a, std::string_view b,
                                     std::string_view c) {
  auto op = client_.sock.write(head, a, backend_.idle_timeout_ms);
  op.add(b);
  op.add(c);
  auto w = co_await op;
  co_return static_cast<bool>(w);
}

Task<Result<std::size_t>> Exchange::read_backend() {
  auto r = co_await conn_->socket().read(std::span<char>(ubuf_.data(), ubuf_.capacity()),
                                         backend_.idle_timeout_ms);
  uused_ = r ? *r : 0;
  co_return r;
}

ForwardResult Exchange::backend_broke(const char* what) {
  spdlog::warn(
      "listener '{}' route '{}' backend '{}' server {}: response cut off ({}); closing the client "
      "connection",
      client_.listener.name, route_.name, backend_.name, server_->address, what);
  retire_backend();
  ForwardResult r;
  r.next = ForwardResult::Next::abort;
  return r;
}

ForwardResult Exchange::done(bool keep_alive) const {
  ForwardResult r;
  r.next = keep_alive ? ForwardResult::Next::keep_alive : ForwardResult::Next::close;
  return r;
}

}  // namespace sluice::proxy
