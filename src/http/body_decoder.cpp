#include "http/body_decoder.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace sluice::http {

BodyDecoder::BodyDecoder(Framing framing, std::uint64_t length, TrailerLimits trailer_limits)
    : framing_(framing),
      remaining_(framing == Framing::content_length ? length : 0),
      // RFC 9112 §6.3: no body, or "Content-Length: 0", ends with the head.
      done_(framing == Framing::none || (framing == Framing::content_length && length == 0)),
      chunked_(trailer_limits) {}

BodyDecoder::Result BodyDecoder::decode(std::span<char> in) {
  Result r;
  if (error_ != nullptr) {
    r.error = true;
    r.too_large = error_too_large_;
    r.reason = error_;
    return r;
  }
  if (done()) {
    r.done = true;
    return r;
  }
  switch (framing_) {
    case Framing::content_length:
      return decode_length(in);
    case Framing::chunked:
      return decode_chunked(in);
    case Framing::close_delimited:
      // RFC 9112 §6.3 rule 8: every byte until the close is body.
      r.consumed = in.size();
      r.data_bytes = in.size();
      body_bytes_ += in.size();
      return r;
    case Framing::none:
      break;
  }
  r.done = true;  // not reached: a body without framing is done from the start
  return r;
}

BodyDecoder::Result BodyDecoder::decode_length(std::span<char> in) {
  // The data is already at the front: nothing moves.
  Result r;
  const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
  remaining_ -= take;
  body_bytes_ += take;
  r.consumed = take;
  r.data_bytes = take;
  done_ = remaining_ == 0;
  r.done = done_;
  return r;
}

BodyDecoder::Result BodyDecoder::decode_chunked(std::span<char> in) {
  Result r;
  std::size_t pos = 0;  // input used
  std::size_t out = 0;  // data compacted at the front; never past pos
  while (pos < in.size()) {
    const auto step = chunked_.decode(std::string_view(in.data() + pos, in.size() - pos));
    if (step.error) {
      error_ = step.reason;
      error_too_large_ = step.too_large;
      r.error = true;
      r.too_large = step.too_large;
      r.reason = step.reason;
      break;
    }
    if (step.data_bytes > 0) {
      // The data lies at or after `out`: memmove, as the ranges may overlap.
      std::memmove(in.data() + out, step.data.data(), step.data_bytes);
      out += step.data_bytes;
      body_bytes_ += step.data_bytes;
    }
    pos += step.consumed;
    if (step.done) {
      done_ = true;
      break;
    }
    if (step.consumed == 0) break;
  }
  r.consumed = pos;
  r.data_bytes = out;
  r.done = done_;
  return r;
}

bool BodyDecoder::end_of_input() {
  // RFC 9112 §6.3 rule 8 ends a close-delimited body at the close; for any
  // other framing a close before the end is an incomplete message (§8).
  if (framing_ == Framing::close_delimited) done_ = true;
  return done_;
}

bool BodyDecoder::done() const {
  return done_;
}

std::uint64_t BodyDecoder::body_bytes() const {
  return body_bytes_;
}

}  // namespace sluice::http
