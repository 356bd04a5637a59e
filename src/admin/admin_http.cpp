#include "admin/admin_http.h"

#include <algorithm>
#include <cassert>

#include "http/serializer.h"

namespace sluice::admin {

AdminRequest AdminRequest::from(const http::RequestHead& head) {
  return {std::string(head.method_text), std::string(head.target), head.framing,
          head.content_length,           head.keep_alive,          head.expect_continue};
}

BodyReader::BodyReader(const AdminRequest& req, std::uint64_t max_body)
    : framing_(req.framing), content_length_(req.content_length), max_body_(max_body) {
  if (framing_ == http::Framing::content_length) {
    // Reserving is safe only because access.h refused a larger length.
    assert(content_length_ <= max_body_);
    body_.reserve(content_length_);
  }
}

BodyReader::Step BodyReader::take(std::string_view buffered, std::size_t capacity) {
  if (framing_ == http::Framing::chunked) return take_chunked(buffered, capacity);
  if (framing_ != http::Framing::content_length) return {0, State::done};
  const std::size_t n = std::min<std::uint64_t>(buffered.size(), content_length_ - body_.size());
  body_.append(buffered.substr(0, n));
  return {n, body_.size() == content_length_ ? State::done : State::need_more};
}

BodyReader::Step BodyReader::take_chunked(std::string_view buffered, std::size_t capacity) {
  std::size_t at = 0;
  while (true) {
    const auto step = decoder_.decode(buffered.substr(at));
    if (step.error) {
      reason_ = step.reason;
      return {at, State::malformed};
    }
    body_.append(step.data);
    at += step.consumed;
    if (body_.size() > max_body_) return {at, State::too_large};
    if (step.done) return {at, State::done};
    if (step.consumed > 0) continue;
    // The decoder wants more but the buffer is full of what it left: a
    // guard, as ChunkedDecoder takes every byte it is given today (it
    // bounds size lines and trailers itself).
    if (buffered.size() - at >= capacity) {
      reason_ = "chunk line or trailer section too long";
      return {at, State::malformed};
    }
    return {at, State::need_more};
  }
}

std::string response_head(const AdminResponse& r, bool keep_alive) {
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + http::reason_phrase(r.status) +
                     "\r\nContent-Type: " + r.content_type +
                     "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [name, value] : r.headers)
    head += name + ": " + value + "\r\n";
  return head + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

}  // namespace sluice::admin
