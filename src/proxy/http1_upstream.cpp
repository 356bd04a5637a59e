#include "proxy/http1_upstream.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>
#include <utility>

#include "core/byte_stream.h"
#include "core/event_loop.h"
#include "http/h1_encoder.h"
#include "http/token.h"
#include "proxy/upstream_connection.h"

namespace sluice::proxy {

Http1Upstream::Http1Upstream(EventLoop& loop, BufferPool& buffers, BufferPool* bulk,
                             std::uint64_t io_timeout_ms)
    : loop_(loop),
      io_timeout_ms_(io_timeout_ms),
      scratch_(buffers.acquire()),
      bulk_(bulk),
      buf_(buffers.acquire()) {}

void Http1Upstream::attach(UpstreamConnection& conn) {
  conn_ = &conn;
  held_head_ = 0;
  request_sent_ = false;
  send_cancelled_ = false;
  used_ = 0;
  head_bytes_ = 0;
  parser_.reset();
  body_.reset();
  first_body_read_ = true;
  body_ended_ = false;
  answer_started_ = false;
  clean_ = true;
}

// An awaitable, not a coroutine: a write costs no frame of its own.
ByteStream::WriteOp Http1Upstream::write(std::string_view a, std::string_view b, std::string_view c,
                                         std::string_view d) {
  return conn_->stream().write_pieces(a, b, c, d, io_timeout_ms_);
}

bool Http1Upstream::sent(const Result<std::size_t>& w) {
  if (!w && w.code() == Errc::cancelled) send_cancelled_ = true;
  return static_cast<bool>(w);
}

bool Http1Upstream::prepare(const http::OutgoingRequest& req) {
  http::HeadWriter w(std::span<char>(scratch_.data(), scratch_.capacity()));
  if (!http::encode_request_head(w, req)) return false;
  prepared_head_ = w.size();
  chunked_request_ = req.body == http::BodyKind::streamed;
  return true;
}

// Not a coroutine: a request the socket takes whole costs no frame; only a
// write that must wait goes on in finish_send_body's.
Task<bool> Http1Upstream::send_body(std::string_view data, bool end) {
  const std::string_view head(scratch_.data(), held_head_);
  held_head_ = 0;
  std::string_view size_piece;
  std::string_view tail;
  if (chunked_request_) {
    // The body goes out re-chunked, one chunk per piece; the size line in
    // a member, as a write that waits still points at it.
    const http::ChunkFrame f = http::frame_chunk(size_line_, data.size(), end);
    size_piece = f.before;
    tail = f.after;
  }
  if (head.empty() && size_piece.empty() && data.empty() && tail.empty()) {
    if (end) request_sent_ = true;
    return Task<bool>::ready(true);
  }
  ByteStream::WriteOp w = write(head, size_piece, data, tail);
  if (!w.await_ready()) return finish_send_body(w.rest(), end);
  return Task<bool>::ready(body_sent(w.await_resume(), end));
}

Task<bool> Http1Upstream::finish_send_body(ByteStream::WriteOp::Rest rest, bool end) {
  co_return body_sent(co_await ByteStream::WriteOp(rest), end);
}

bool Http1Upstream::body_sent(const Result<std::size_t>& w, bool end) {
  const bool ok = sent(w);
  if (ok && end) request_sent_ = true;
  return ok;
}

// RFC 9112 §7.1.2: a chunked request ends with its trailer section; one
// framed by Content-Length cannot carry it and ends with its last byte.
Task<bool> Http1Upstream::send_trailers(std::span<const http::HeaderField> trailers) {
  if (!chunked_request_) co_return co_await send_body({}, true);
  // scratch_ keeps the prepared head for another try; the response buffer
  // holds nothing until the response is read.
  http::HeadWriter w(std::span<char>(buf_.data(), buf_.capacity()));
  if (!http::encode_last_chunk(w, trailers)) {
    // A client's trailer section is bounded below a buffer's size (its
    // listener's max_header_size); this one came over another protocol.
    spdlog::warn("{} request trailer fields larger than a buffer were dropped", trailers.size());
    co_return co_await send_body({}, true);
  }
  const std::string_view head(scratch_.data(), std::exchange(held_head_, 0));
  const bool ok = sent(co_await write(head, w.text()));
  if (ok) request_sent_ = true;
  co_return ok;
}

HeadRead Http1Upstream::head_failed(ErrorKind kind, const char* reason) {
  HeadRead r;
  r.failed = true;
  r.error = ExchangeError{kind, Side::server, Phase::headers, false, reason};
  return r;
}

// The previous (interim) head's bytes go; what followed it moves up.
void Http1Upstream::drop_head() {
  if (head_bytes_ == 0) return;
  std::memmove(buf_.data(), buf_.data() + head_bytes_, used_ - head_bytes_);
  used_ -= head_bytes_;
  head_bytes_ = 0;
  parser_->reset();
}

Task<HeadRead> Http1Upstream::read_head(std::uint64_t deadline_ms,
                                        std::span<http::HeaderField> fields,
                                        http::Method request_method) {
  if (!parser_) {
    parser_.emplace(http::ParserLimits{buf_.capacity(), buf_.capacity(), fields.size()}, fields);
  }
  drop_head();
  // Nothing buffered (the usual case): nothing to parse before the first read.
  http::ParseState state =
      used_ > 0 ? parser_->parse(std::string_view(buf_.data(), used_), request_method)
                : http::ParseState::need_more;
  while (state == http::ParseState::need_more) {
    if (used_ == buf_.capacity())
      co_return head_failed(ErrorKind::too_large, "response head too large");
    const std::uint64_t now = loop_.now_ms();
    auto r =
        co_await conn_->stream().read(std::span<char>(buf_.data() + used_, buf_.capacity() - used_),
                                      deadline_ms > now ? deadline_ms - now : 1);
    if (!r) {
      HeadRead failed;
      failed.failed = true;
      if (r.code() == Errc::cancelled) {
        failed.error = ExchangeError{ErrorKind::closed, Side::client, Phase::headers, false,
                                     "the client left"};
      } else if (r.code() == Errc::timeout) {
        failed.error = ExchangeError{ErrorKind::timeout, Side::server, Phase::headers, true,
                                     "the server did not answer in time"};
      } else {
        failed.error = ExchangeError{ErrorKind::closed, Side::server, Phase::headers, true,
                                     "the server closed the connection without answering"};
      }
      co_return failed;
    }
    used_ += *r;
    answer_started_ = true;
    state = parser_->parse(std::string_view(buf_.data(), used_), request_method);
  }
  if (state == http::ParseState::error) {
    spdlog::debug("bad response: {}", parser_->error().reason);
    co_return head_failed(ErrorKind::malformed, "invalid response from the server");
  }
  const http::ResponseHead& head = parser_->head();
  head_bytes_ = parser_->head_bytes();
  if (head.status >= 200) {
    // RFC 9112 §9.3: an HTTP/1.0 server, or one that said close, or a
    // message whose framing was doubtful, does not get another request.
    if (!head.keep_alive || head.must_close || head.version_minor == 0) clean_ = false;
    note_keep_alive_hint(head);
    body_.emplace(head.framing, head.content_length);
  }
  HeadRead r;
  r.head = &head;
  co_return r;
}

// A server's "Keep-Alive: timeout=N" (RFC 2068 §19.7.1, still widely sent)
// says when it will close an idle connection; the pool retires it earlier.
void Http1Upstream::note_keep_alive_hint(const http::ResponseHead& head) {
  for (const auto& f : head.fields) {
    if (!http::iequals_literal<"keep-alive">(f.name)) continue;
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

// The last read filled the buffer: the body arrives faster than one buffer
// drains it, so the rest moves through a bulk buffer, in fewer and larger
// reads and sends (core/worker.h). Between two reads the buffer holds
// nothing: the last piece has been sent on.
void Http1Upstream::take_bulk_buffer() {
  if (used_ == buf_.capacity() && bulk_ != nullptr && bulk_->buffer_bytes() > buf_.capacity()) {
    buf_ = bulk_->acquire();
  }
}

std::string_view Http1Upstream::bytes_after_head() const {
  return std::string_view(buf_.data() + head_bytes_, used_ - head_bytes_);
}

// Not a coroutine: the first piece (what came with the head, even none) and
// the end of a body already whole cost no frame; only a read from the
// server goes on in read_body_from_server's.
Task<BodyPiece> Http1Upstream::read_body() {
  assert(body_.has_value());  // read_head gave a final head
  if (first_body_read_) return Task<BodyPiece>::ready(decode_body(head_bytes_));
  if (body_->done()) {
    used_ = 0;
    return Task<BodyPiece>::ready(decode_body(0));
  }
  return read_body_from_server();
}

Task<BodyPiece> Http1Upstream::read_body_from_server() {
  take_bulk_buffer();
  auto r =
      co_await conn_->stream().read(std::span<char>(buf_.data(), buf_.capacity()), io_timeout_ms_);
  used_ = r ? *r : 0;
  if (!r) {
    BodyPiece p;
    if (r.code() == Errc::closed && body_->end_of_input()) {
      // RFC 9112 §6.3 rule 8: the server's close ends the body.
      clean_ = false;
      body_ended_ = true;
      p.end = true;
      co_return p;
    }
    p.failed = true;
    // The client leaving cancels the read; a silent server is a
    // timeout (sD), anything else the server broke the body (SD).
    const Errc e = r.code();
    p.error = ExchangeError{e == Errc::timeout ? ErrorKind::timeout : ErrorKind::closed,
                            e == Errc::cancelled ? Side::client : Side::server, Phase::data, false,
                            e == Errc::closed ? "closed early" : "read failed"};
    co_return p;
  }
  co_return decode_body(0);
}

// The body bytes in buf_ from `start` to used_, de-framed.
BodyPiece Http1Upstream::decode_body(std::size_t start) {
  first_body_read_ = false;
  head_bytes_ = 0;
  std::span<char> in(buf_.data() + start, used_ - start);
  const http::BodyDecoder::Result d = body_->decode(in);
  BodyPiece p;
  if (d.error) {
    p.failed = true;
    p.error = ExchangeError{ErrorKind::malformed, Side::server, Phase::data, false, d.reason};
    return p;
  }
  if (body_->framing() == http::Framing::close_delimited) clean_ = false;
  // RFC 9112 §6.3: bytes after a complete response answer nothing: the
  // connection is not reused.
  if (d.done && d.consumed < in.size()) clean_ = false;
  p.data = std::string_view(in.data(), d.data_bytes);
  p.more_waiting = !d.done && used_ == buf_.capacity();
  p.end = d.done;
  if (d.done) p.trailers = body_->trailers();
  body_ended_ = d.done;
  return p;
}

}  // namespace sluice::proxy
