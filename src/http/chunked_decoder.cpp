#include "http/chunked_decoder.h"

#include <algorithm>

#include "http/token.h"

namespace sluice::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::fail(Step s, const char* reason) {
  state_ = State::failed;
  s.error = true;
  s.reason = reason;
  return s;
}

ChunkedDecoder::Step ChunkedDecoder::decode(std::string_view in) {
  Step s;
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (state_) {
      case State::size: {
        const int h = hex_value(c);
        if (h >= 0) {
          // RFC 9112 §7.1: sizes that overflow are rejected, not wrapped.
          if (++digits_ > kMaxSizeDigits) return fail(s, "chunk size too large");
          size_ = (size_ << 4) | static_cast<std::uint64_t>(h);
          ++i;
        } else if (digits_ == 0) {
          return fail(s, "chunk size missing");
        } else if (c == ';' || c == ' ' || c == '\t') {
          // chunk-ext (RFC 9112 §7.1.1): BWS ; name [= value]; ignored,
          // but bounded and free of control characters.
          state_ = State::extension;
          extension_quoted_ = false;
          ++i;
        } else if (c == '\r') {
          state_ = State::size_lf;
          ++i;
        } else {
          return fail(s, "invalid character in chunk size");
        }
        break;
      }
      case State::extension:
        if (++extension_bytes_ > kMaxExtensionBytes) return fail(s, "chunk extension too long");
        if (c == '"') extension_quoted_ = !extension_quoted_;
        if (c == '\r' && !extension_quoted_) {
          state_ = State::size_lf;
        } else if (c == '\n' || (!is_field_value_char(static_cast<unsigned char>(c)))) {
          return fail(s, "invalid character in chunk extension");
        }
        ++i;
        break;
      case State::size_lf:
        if (c != '\n') return fail(s, "chunk size line not ended by CRLF");
        ++i;
        digits_ = 0;
        extension_bytes_ = 0;
        state_ = size_ == 0 ? State::trailer_start : State::data;
        break;
      case State::data: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(size_, in.size() - i));
        s.data = in.substr(i, take);
        s.data_bytes = take;
        size_ -= take;
        body_bytes_ += take;
        i += take;
        if (size_ == 0) state_ = State::data_cr;
        s.consumed = i;
        return s;  // hand back one piece of data at a time
      }
      case State::data_cr:
        if (c != '\r') return fail(s, "chunk data not followed by CRLF");
        state_ = State::data_lf;
        ++i;
        break;
      case State::data_lf:
        if (c != '\n') return fail(s, "chunk data not followed by CRLF");
        state_ = State::size;
        ++i;
        break;
      case State::trailer_start:
        if (c == '\r') {
          state_ = State::final_lf;
        } else if (c == ' ' || c == '\t') {
          return fail(s, "obsolete line folding in trailer");
        } else {
          state_ = State::trailer_line;
          trailer_colon_ = false;
          trailer_line_bytes_ = 0;
          continue;  // the byte belongs to the line
        }
        ++i;
        break;
      case State::trailer_line:
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail(s, "trailer section too large");
        if (c == '\r') {
          if (!trailer_colon_ || trailer_line_bytes_ == 0)
            return fail(s, "malformed trailer field");
          state_ = State::trailer_lf;
        } else if (!trailer_colon_) {
          if (c == ':') {
            if (trailer_line_bytes_ == 0) return fail(s, "malformed trailer field");
            trailer_colon_ = true;
          } else if (!is_token_char(static_cast<unsigned char>(c))) {
            return fail(s, "invalid character in trailer name");
          }
          ++trailer_line_bytes_;
        } else if (!is_field_value_char(static_cast<unsigned char>(c))) {
          return fail(s, "control character in trailer value");
        }
        ++i;
        break;
      case State::trailer_lf:
        if (c != '\n') return fail(s, "trailer line not ended by CRLF");
        state_ = State::trailer_start;
        ++i;
        break;
      case State::final_lf:
        if (c != '\n') return fail(s, "chunked body not ended by CRLF");
        state_ = State::done;
        ++i;
        s.consumed = i;
        s.done = true;
        return s;
      case State::done:
        s.consumed = i;
        s.done = true;
        return s;
      case State::failed:
        return fail(s, "chunked body already failed");
    }
  }
  s.consumed = i;
  s.done = state_ == State::done;
  if (state_ == State::failed) return fail(s, "chunked body already failed");
  return s;
}

}  // namespace sluice::http
