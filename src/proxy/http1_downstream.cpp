#include "proxy/http1_downstream.h"

#include <spdlog/spdlog.h>
#include <cstring>
#include <utility>

#include "core/byte_stream.h"
#include "core/socket.h"
#include "core/worker.h"
#include "observe/request_record.h"
#include "proxy/forwarded_response.h"
#include "proxy/request_identity.h"
#include "proxy/snapshot.h"
#include "proxy/tunnel.h"

namespace sluice::proxy {

bool encode_client_head(http::HeadWriter& out, const http::OutgoingResponse& res,
                        http::H1Framing framing, int client_minor, bool keep_alive,
                        const ListenerSettings& listener, bool secure,
                        const observe::RequestRecord* record) {
  const http::H1Persistence persistence{client_minor, keep_alive,
                                        listener.keep_alive_header
                                            ? std::string_view(listener.keep_alive_fields)
                                            : std::string_view()};
  http::OutgoingResponse with_listener = res;
  std::array<http::HeaderField, 2> added;
  with_listener.listener_fields =
      listener_response_fields(listener, secure, record, res.fields, added);
  return http::encode_response_head(out, with_listener, framing, persistence);
}

Http1Downstream::Http1Downstream(const Connection& c, const http::RequestHead& head,
                                 std::uint64_t write_timeout_ms)
    : c_(c),
      write_timeout_ms_(write_timeout_ms),
      client_minor_(head.version_minor),
      client_keep_alive_(head.keep_alive),
      expect_continue_(head.expect_continue),
      // A trailer section is bounded as the head is (max_header_count,
      // max_header_size), on its own.
      body_(head.framing, head.content_length,
            http::TrailerLimits{c.listener.max_fields, c.listener.max_head_bytes}),
      pace_(c.listener, c.request_started_ms) {}

BodyPiece Http1Downstream::client_error(ErrorKind kind, const char* reason) {
  BodyPiece p;
  p.failed = true;
  p.error = ExchangeError{kind, Side::client, Phase::request, false, reason};
  return p;
}

// The previous piece's bytes go; what followed them moves up behind the head.
void Http1Downstream::drop_consumed() {
  if (consumed_ == 0) return;
  char* body = c_.buf.data() + c_.head_end;
  const std::size_t held = c_.used - c_.head_end;
  std::memmove(body, body + consumed_, held - consumed_);
  c_.used -= consumed_;
  consumed_ = 0;
}

Task<BodyPiece> Http1Downstream::read_body() {
  drop_consumed();
  BodyPiece p;
  if (body_.done()) {
    p.end = true;
    co_return p;
  }
  while (true) {
    if (c_.used > c_.head_end) {
      const http::BodyDecoder::Result d =
          body_.decode(std::span<char>(c_.buf.data() + c_.head_end, c_.used - c_.head_end));
      if (d.error) {
        spdlog::debug("listener '{}': request body: {}", c_.listener.name, d.reason);
        if (d.too_large) co_return client_error(ErrorKind::too_large, d.reason);
        co_return client_error(ErrorKind::malformed, "malformed chunked request body");
      }
      const auto& limit = c_.listener.max_body_bytes;
      if (limit && body_.body_bytes() > *limit) {
        co_return client_error(ErrorKind::body_too_large,
                               "request body larger than the listener allows");
      }
      consumed_ = d.consumed;
      if (d.data_bytes > 0 || d.done) {
        first_read_ = false;
        p.data = std::string_view(c_.buf.data() + c_.head_end, d.data_bytes);
        if (record_ != nullptr) record_->bytes_in += d.data_bytes;
        p.end = d.done;
        if (d.done) p.trailers = body_.trailers();
        co_return p;
      }
      drop_consumed();  // framing only: it goes, and more is read
      if (c_.used == c_.buf.capacity()) {
        // A chunk size line or trailer section larger than the room behind
        // the head.
        co_return client_error(ErrorKind::malformed, "malformed chunked request body");
      }
    }
    if (first_read_) {
      // The first piece is what came with the head, even none: the head
      // goes to the server before we wait on the client.
      first_read_ = false;
      co_return p;
    }
    const bool more = co_await read_more(p);
    if (!more) co_return p;
  }
}

// RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" holds its body
// back until told to go on; we tell it ourselves (the server does not see
// the expectation) just before we wait for the body.
Task<bool> Http1Downstream::read_more(BodyPiece& failure) {
  if (expect_continue_ && client_minor_ == 1) {
    expect_continue_ = false;
    if (!co_await c_.stream.write(http::kContinue, c_.listener.body_timeout_ms)) {
      failure = client_error(ErrorKind::closed, "the client left");
      co_return false;
    }
  }
  while (true) {
    EventLoop& loop = c_.stream.loop();
    const std::uint64_t started = loop.now_ms();
    auto r = co_await c_.stream.read(
        std::span<char>(c_.buf.data() + c_.used, c_.buf.capacity() - c_.used),
        pace_.read_timeout(started));
    if (!r && r.code() != Errc::timeout) {
      failure = client_error(ErrorKind::closed, "the client left");
      co_return false;
    }
    const std::size_t n = r ? *r : 0;
    if (const char* slow = pace_.after_read(started, loop.refresh_now(), n)) {
      failure = client_error(ErrorKind::too_slow, slow);
      co_return false;
    }
    c_.used += n;
    if (n > 0) co_return true;
  }
}

std::span<char> Http1Downstream::head_buffer() {
  if (!head_buf_) head_buf_ = c_.scope.worker().buffers().acquire();
  return {head_buf_.data(), head_buf_.capacity()};
}

// An awaitable, not a coroutine: a write costs no frame of its own.
ByteStream::WriteOp Http1Downstream::write(std::string_view a, std::string_view b,
                                           std::string_view c, std::string_view d, bool more) {
  if (record_ != nullptr) record_->bytes_out += a.size() + b.size() + c.size() + d.size();
  return c_.stream.write_pieces(a, b, c, d, write_timeout_ms_, more);
}

// RFC 9110 §15.2: never to an HTTP/1.0 client.
Task<bool> Http1Downstream::send_interim(const http::OutgoingResponse& res) {
  if (client_minor_ == 0) co_return true;
  http::HeadWriter w(head_buffer());
  if (!http::encode_interim(w, res)) co_return true;  // an oversized hint is dropped, not fatal
  co_return static_cast<bool>(co_await c_.stream.write(w.text(), c_.listener.body_timeout_ms));
}

HeadSent Http1Downstream::queue_head(const http::OutgoingResponse& res) {
  if (record_ != nullptr) record_->status = res.status;
  framing_ = http::choose_framing(res.body, client_minor_);
  // Decided now: a stop may have begun while the request was served.
  keep_alive_ = client_keep_alive_ && body_.done() && !c_.scope.worker().stopping() &&
                framing_ != http::H1Framing::close;
  http::HeadWriter w(head_buffer());
  if (!encode_client_head(w, res, framing_, client_minor_, keep_alive_, c_.listener,
                          c_.stream.is_secure(), record_)) {
    return HeadSent::too_large;
  }
  held_head_ = w.size();
  return HeadSent::queued;
}

// Not a coroutine: a piece the socket takes whole (a keep-alive response,
// head and body, mostly is one) costs no frame; only a write that must wait
// goes on in finish_send_body's.
Task<bool> Http1Downstream::send_body(std::string_view data, bool end) {
  // MSG_MORE only for a piece of a body with more waiting behind it: the
  // next send, at once, releases what the kernel held (on loopback whole
  // pieces coalesce into fewer segments; elsewhere a segment's tail waits).
  const bool more = std::exchange(more_follows_, false) && !end && c_.stream.is_plain_socket();
  if (push_timer_.armed()) c_.scope.worker().loop().timers().cancel(push_timer_);
  const std::string_view head(head_buf_ ? head_buf_.data() : nullptr, held_head_);
  held_head_ = 0;
  std::string_view size_piece;
  std::string_view tail;
  if (framing_ == http::H1Framing::chunked) {
    // In a member: a write that waits still points at it.
    const http::ChunkFrame f = http::frame_chunk(size_line_, data.size(), end);
    size_piece = f.before;
    tail = f.after;
  }
  if (head.empty() && size_piece.empty() && data.empty() && tail.empty()) {
    return Task<bool>::ready(true);
  }
  ByteStream::WriteOp w = write(head, size_piece, data, tail, more);
  if (!w.await_ready()) return finish_send_body(w.rest(), more);
  return Task<bool>::ready(body_sent(w.await_resume(), more));
}

Task<bool> Http1Downstream::finish_send_body(ByteStream::WriteOp::Rest rest, bool more) {
  co_return body_sent(co_await ByteStream::WriteOp(rest), more);
}

bool Http1Downstream::body_sent(const Result<std::size_t>& w, bool more) {
  if (w && more) hold_for_next_piece();
  return static_cast<bool>(w);
}

void Http1Downstream::hold_for_next_piece() {
  // Setting TCP_NODELAY (already on) makes the kernel send what it holds.
  push_timer_.fd = c_.stream.fd();
  push_timer_.set_callback([](Timer* t) { set_nodelay(static_cast<PushTimer*>(t)->fd); });
  EventLoop& loop = c_.scope.worker().loop();
  loop.timers().schedule(push_timer_, loop.now_ms() + 1);
}

// RFC 9112 §7.1.2: only the chunked coding carries trailer fields. An
// HTTP/1.0 client's body ends with our close, and a Content-Length body
// with its last byte: they get the body's end without them.
Task<bool> Http1Downstream::send_trailers(std::span<const http::HeaderField> trailers) {
  if (framing_ != http::H1Framing::chunked) co_return co_await send_body({}, true);
  const std::span<char> buf = head_buffer();
  std::size_t head = std::exchange(held_head_, 0);
  // Behind a head still held, so that both leave in one write.
  http::HeadWriter w(buf.subspan(head));
  if (!http::encode_last_chunk(w, trailers) && head > 0) {
    const bool sent = static_cast<bool>(co_await write(std::string_view(buf.data(), head)));
    if (!sent) co_return false;
    head = 0;
    w = http::HeadWriter(buf);
    (void)http::encode_last_chunk(w, trailers);
  }
  if (w.overflow()) {
    // Larger than a buffer (HTTP/1 bounds a response's trailer section at
    // 16 KiB; an HTTP/2 server's may be larger): the body ends without
    // it, and the log says so.
    spdlog::warn("listener '{}': {} trailer fields larger than a buffer were dropped",
                 c_.listener.name, trailers.size());
    co_return static_cast<bool>(
        co_await write(std::string_view(buf.data(), head), http::kLastChunk));
  }
  co_return static_cast<bool>(co_await write(std::string_view(buf.data(), head), w.text()));
}

void Http1Downstream::reset() {
  c_.stream.close();
}

Task<void> Http1Downstream::tunnel(ByteStream& server, std::string_view server_pending,
                                   std::span<char> server_buffer, std::uint64_t write_timeout_ms) {
  const std::string_view head(head_buf_ ? head_buf_.data() : nullptr, held_head_);
  held_head_ = 0;
  if (!(co_await write(head, server_pending))) co_return;
  head_buf_.reset();
  // What the client sent after its request already belongs to the tunnel.
  drop_consumed();
  if (c_.used > c_.head_end) {
    if (!co_await server.write(std::string_view(c_.buf.data() + c_.head_end, c_.used - c_.head_end),
                               write_timeout_ms)) {
      co_return;
    }
  }
  c_.used = 0;
  co_await run_tunnel(c_.stream, server, std::span<char>(c_.buf.data(), c_.buf.capacity()),
                      server_buffer, c_.listener.idle_timeout_ms);
}

}  // namespace sluice::proxy
