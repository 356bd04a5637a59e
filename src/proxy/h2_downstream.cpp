#include "proxy/h2_downstream.h"

#include <spdlog/spdlog.h>

#include "http/serializer.h"
#include "http/token.h"
#include "observe/request_record.h"
#include "proxy/forwarded_response.h"
#include "proxy/request_identity.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

bool asks_continue(const http::RequestHead& head) {
  for (const auto& f : head.fields) {
    if (f.name == "expect") return http::iequals(f.value, "100-continue");
  }
  return false;
}

// What an answer's fields may weigh: nghttp2 refuses to send a header block
// above 64 KiB.
constexpr std::size_t kMaxHeadBytes = 64 * 1024 - 1024;

std::size_t head_weight(std::span<const http::HeaderField> fields) {
  std::size_t n = 0;
  for (const auto& f : fields)
    n += f.name.size() + f.value.size() + 32;
  return n;
}

// The length compare first: most names are not 14 bytes long.
bool has_content_length(std::span<const http::HeaderField> fields) {
  for (const auto& f : fields) {
    if (f.name.size() == 14 && http::iequals(f.name, "content-length")) return true;
  }
  return false;
}

}  // namespace

H2Downstream::H2Downstream(const H2StreamLink& link, H2Stream& stream,
                           const http::RequestHead& head, std::uint64_t request_started_ms)
    : link_(link),
      s_(stream),
      pace_(link.listener, request_started_ms),
      expect_continue_(asks_continue(head)),
      answering_head_(head.method == http::Method::HEAD),
      // A request whose HEADERS ended the stream has no body, and the
      // exchange never reads one: it is read whole from the start, so a
      // GET can be sent again (design problem 5).
      body_read_(head.framing == http::Framing::none) {}

BodyPiece H2Downstream::client_error(ErrorKind kind, const char* reason) {
  BodyPiece p;
  p.failed = true;
  p.error = ExchangeError{kind, Side::client, Phase::request, false, reason};
  return p;
}

// The previous piece was taken: its bytes open the client's windows again.
void H2Downstream::give_back_delivered() {
  if (s_.delivering.empty()) return;
  link_.codec.consume(s_.state, s_.delivering.size());
  s_.delivering.clear();
  link_.writer.raise();  // a WINDOW_UPDATE to send
}

// The codec stopped storing the trailer section's fields past the limits
// on a head (RFC 9113 §6.5.2's list size, the field count): what it kept
// is not the section the client sent, so none of it is forwarded.
bool H2Downstream::trailers_over_limits() const {
  return s_.state.has_trailers && s_.state.too_large;
}

Task<BodyPiece> H2Downstream::read_body() {
  give_back_delivered();
  BodyPiece p;
  while (true) {
    if (!s_.state.body.empty()) {
      // The codec appends to state.body while the exchange uses what it
      // was given: hand over the bytes, keep a fresh buffer.
      std::swap(s_.delivering, s_.state.body);
      body_bytes_ += s_.delivering.size();
      if (record_ != nullptr) record_->bytes_in += s_.delivering.size();
      const auto& limit = link_.listener.max_body_bytes;
      if (limit && body_bytes_ > *limit) {
        co_return client_error(ErrorKind::body_too_large,
                               "request body larger than the listener allows");
      }
      if (trailers_over_limits()) {
        co_return client_error(ErrorKind::too_large, "request trailer fields too large");
      }
      first_read_ = false;
      p.data = s_.delivering;
      p.end = s_.state.ended && s_.state.body.empty();
      body_read_ = p.end;
      if (p.end && s_.state.has_trailers) p.trailers = s_.state.trailers.fields();
      co_return p;
    }
    if (s_.state.ended) {
      if (trailers_over_limits()) {
        co_return client_error(ErrorKind::too_large, "request trailer fields too large");
      }
      body_read_ = true;
      p.end = true;
      if (s_.state.has_trailers) p.trailers = s_.state.trailers.fields();
      co_return p;
    }
    if (s_.state.closed || s_.cancel.cancelled()) {
      co_return client_error(ErrorKind::closed, "the client reset the stream");
    }
    if (first_read_) {
      // As for HTTP/1: the head goes to the server before we wait.
      first_read_ = false;
      co_return p;
    }
    // RFC 9110 §10.1.1 (and RFC 9113 §8.1): a client waiting on
    // 100-continue gets it as an interim HEADERS frame.
    if (expect_continue_) {
      expect_continue_ = false;
      http::H2ServerConnection::Head interim;
      interim.status = 100;
      interim.interim = true;
      link_.codec.submit_head(s_.state, interim);
      link_.writer.raise();
    }
    const std::uint64_t started = link_.loop.now_ms();
    const Errc woke = co_await s_.wake.wait(link_.loop, pace_.read_timeout(started), &s_.cancel);
    if (woke == Errc::cancelled) {
      co_return client_error(ErrorKind::closed, "the client reset the stream");
    }
    const std::size_t n = woke == Errc::ok ? s_.state.body.size() : 0;
    if (const char* slow = pace_.after_read(started, link_.loop.refresh_now(), n)) {
      co_return client_error(ErrorKind::too_slow, slow);
    }
  }
}

Task<bool> H2Downstream::send_interim(const http::OutgoingResponse& res) {
  if (s_.state.closed) co_return false;
  if (head_weight(res.fields) > kMaxHeadBytes) co_return true;  // an oversized hint is dropped
  http::H2ServerConnection::Head interim;
  interim.status = res.status;
  interim.fields = res.fields;
  interim.interim = true;
  link_.codec.submit_head(s_.state, interim);
  link_.writer.raise();
  co_return true;
}

HeadSent H2Downstream::queue_head(const http::OutgoingResponse& res) {
  if (record_ != nullptr) record_->status = res.status;
  std::array<http::HeaderField, 2> added;
  const auto listener_fields =
      listener_response_fields(link_.listener, link_.secure, record_, res.fields, added);
  if (head_weight(res.fields) + head_weight(listener_fields) > kMaxHeadBytes) {
    return HeadSent::too_large;
  }
  // RFC 9110 §9.3.2, RFC 9113 §8.1: a response to HEAD (and one without
  // content) ends with its HEADERS frame.
  // An empty body ends with the HEADERS frame too: an HTTP/2 server's
  // head that ended its stream (gRPC's Trailers-Only response) stays one
  // frame.
  has_body_ = res.body != http::BodyKind::none && !answering_head_ &&
              !(res.body == http::BodyKind::sized && res.length == 0);
  // HTTP/1 framing was stripped (outgoing.h); a known length is still
  // worth stating (RFC 9113 §8.1.1: the client checks it against the DATA
  // it gets), once.
  http::H2ServerConnection::Head h;
  h.status = res.status;
  h.fields = res.fields;
  h.more_fields = listener_fields;
  if (res.body == http::BodyKind::sized && !has_content_length(res.fields)) {
    h.content_length = static_cast<std::int64_t>(res.length);
  }
  h.has_body = has_body_;
  if (!link_.codec.submit_head(s_.state, h)) return HeadSent::too_large;
  if (!has_body_) s_.response_done = true;
  return HeadSent::queued;
}

Task<bool> H2Downstream::send_body(std::string_view data, bool end) {
  if (!has_body_) {
    link_.writer.raise();  // the HEADERS frame
    co_return !s_.state.closed || s_.response_done;
  }
  s_.state.out = data;
  s_.state.out_end = end;
  if (record_ != nullptr) record_->bytes_out += data.size();
  link_.codec.resume(s_.state);
  link_.writer.raise();
  // Until the codec has taken the piece: the client's windows are our
  // back-pressure, bounded by zero_window_timeout.
  while (!s_.state.out.empty() || (end && !s_.state.out_done)) {
    if (s_.state.closed) co_return false;
    const Errc woke = co_await s_.wake.wait(link_.loop, link_.zero_window_timeout_ms, &s_.cancel);
    if (woke == Errc::timeout) {
      spdlog::warn("listener '{}' client {}: HTTP/2 stream {} reset (no window to send for {} ms)",
                   link_.listener.name, link_.client.to_string(), s_.state.id,
                   link_.zero_window_timeout_ms);
      s_.state.out = {};
      link_.codec.reset(s_.state, http::h2_error::cancel);
      link_.writer.raise();
      co_return false;
    }
    if (woke != Errc::ok) co_return false;
  }
  if (end) s_.response_done = true;
  co_return true;
}

Task<bool> H2Downstream::send_trailers(std::span<const http::HeaderField> trailers) {
  if (!has_body_) co_return co_await send_body({}, true);
  s_.state.out_trailers.clear();
  for (const auto& f : trailers) {
    std::string lower(f.name);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    s_.state.out_trailers.add(lower, f.value);
  }
  s_.state.send_trailers = s_.state.out_trailers.count() > 0;
  co_return co_await send_body({}, true);
}

void H2Downstream::reset() {
  s_.state.out = {};
  link_.codec.reset(s_.state, http::h2_error::internal_error);
  link_.writer.raise();
}

Task<void> H2Downstream::tunnel(ByteStream&, std::string_view, std::span<char>, std::uint64_t) {
  // Never reached: CONNECT over HTTP/2 (RFC 9113 §8.5) is refused before
  // an exchange starts, and an h2 request cannot ask for an upgrade.
  reset();
  co_return;
}

Task<bool> send_h2_local(const H2StreamLink& link, H2Stream& s, const http::OutgoingResponse& res,
                         std::string_view body, bool head_request) {
  char date[http::kDateFieldBytes];
  const std::size_t date_len = http::write_date_field(date);
  // "Date: <value>\r\n" as one field.
  const std::string_view date_line(date, date_len);
  const http::HeaderField date_field{"date", date_line.substr(6, date_line.size() - 8)};
  std::vector<http::HeaderField> fields(res.fields.begin(), res.fields.end());
  fields.push_back(date_field);
  std::array<http::HeaderField, 2> added;
  http::H2ServerConnection::Head h;
  h.status = res.status;
  h.fields = fields;
  h.more_fields = listener_response_fields(link.listener, link.secure, s.record, fields, added);
  if (res.body == http::BodyKind::sized) h.content_length = static_cast<std::int64_t>(res.length);
  const bool data_follows = res.body != http::BodyKind::none && !head_request;
  h.has_body = data_follows;
  if (s.record != nullptr) {
    s.record->status = res.status;
    if (s.record->termination == kCompleted) s.record->termination = kAnsweredLocally;
  }
  if (!link.codec.submit_head(s.state, h)) co_return false;
  if (!data_follows) {
    s.response_done = true;
    link.writer.raise();
    co_return true;
  }
  s.state.out = body;
  s.state.out_end = true;
  if (s.record != nullptr) s.record->bytes_out += body.size();
  link.writer.raise();
  while (!s.state.out_done) {
    if (s.state.closed) co_return false;
    const Errc woke = co_await s.wake.wait(link.loop, link.zero_window_timeout_ms, &s.cancel);
    if (woke != Errc::ok) {
      if (woke == Errc::timeout) link.codec.reset(s.state, http::h2_error::cancel);
      link.writer.raise();
      co_return false;
    }
  }
  s.response_done = true;
  co_return true;
}

}  // namespace sluice::proxy
