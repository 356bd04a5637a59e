#include "http/chunked_decoder.h"

#include <algorithm>

#include "http/token.h"

namespace sluice::http {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool ChunkedDecoder::enter_extension_after_size(char c) {
  if (c == ';') {
    state_ = State::ext_name_start;
  } else if (is_space(c)) {
    state_ = State::ext_bws;
  } else {
    return false;
  }
  return true;
}

bool ChunkedDecoder::after_extension_item(char c, State on_space) {
  if (c == ';') {
    state_ = State::ext_name_start;
  } else if (c == '\r') {
    state_ = State::size_lf;
  } else if (is_space(c)) {
    state_ = on_space;
  } else {
    return false;
  }
  return true;
}

void ChunkedDecoder::index_trailers() {
  if (trailer_count_ == 0) return;
  trailers_.reserve(trailer_count_);
  const std::string_view text(trailer_text_);
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = text.find('\n', begin);
    const std::string_view line = text.substr(begin, end - begin);
    const std::size_t colon = line.find(':');  // the line was checked: there is one
    std::string_view value = line.substr(colon + 1);
    // RFC 9112 §5: OWS around a field value is not part of it.
    while (!value.empty() && is_space(value.front()))
      value.remove_prefix(1);
    while (!value.empty() && is_space(value.back()))
      value.remove_suffix(1);
    trailers_.push_back({line.substr(0, colon), value});
    begin = end + 1;
  }
}

ChunkedDecoder::Step ChunkedDecoder::fail(Step s, const char* reason) {
  state_ = State::failed;
  s.error = true;
  s.reason = reason;
  return s;
}

ChunkedDecoder::Step ChunkedDecoder::fail_too_large(Step s, const char* reason) {
  s.too_large = true;
  return fail(s, reason);
}

ChunkedDecoder::Step ChunkedDecoder::decode(std::string_view in) {
  Step s;
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    // The size line's states come first in State.
    if (state_ < State::size_lf && ++size_line_bytes_ > kMaxSizeLineBytes) {
      return fail(s, "chunk size line too long");
    }
    switch (state_) {
      case State::size: {
        const int h = hex_value(c);
        if (h >= 0) {
          // RFC 9112 §7.1: chunk-size = 1*HEXDIG, so leading zeros are
          // valid and do not count; sizes that overflow are rejected, not
          // wrapped.
          size_seen_ = true;
          if (size_ != 0 || h != 0) {
            if (++significant_digits_ > kMaxSizeDigits) return fail(s, "chunk size too large");
            size_ = (size_ << 4) | static_cast<std::uint64_t>(h);
          }
        } else if (!size_seen_) {
          return fail(s, "chunk size missing");
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else if (!enter_extension_after_size(c)) {
          return fail(s, "invalid character after the chunk size");
        }
        ++i;
        break;
      }
      case State::ext_bws:
        // RFC 9112 §7.1.1: BWS is allowed only before ';' ("5 junk" and
        // "5 " are not chunk size lines).
        if (c == ';') {
          state_ = State::ext_name_start;
        } else if (!is_space(c)) {
          return fail(s, "white space in a chunk size line not followed by ';'");
        }
        ++i;
        break;
      case State::ext_name_start:
        if (is_token_char(static_cast<unsigned char>(c))) {
          state_ = State::ext_name;
        } else if (!is_space(c)) {
          return fail(s, "chunk extension without a name");
        }
        ++i;
        break;
      case State::ext_name:
        if (c == '=') {
          state_ = State::ext_value_start;
        } else if (!after_extension_item(c, State::ext_name_bws) &&
                   !is_token_char(static_cast<unsigned char>(c))) {
          return fail(s, "invalid character in a chunk extension name");
        }
        ++i;
        break;
      case State::ext_name_bws:
        if (c == '=') {
          state_ = State::ext_value_start;
        } else if (c == ';') {
          state_ = State::ext_name_start;
        } else if (!is_space(c)) {
          return fail(s, "invalid character after a chunk extension name");
        }
        ++i;
        break;
      case State::ext_value_start:
        if (c == '"') {
          state_ = State::ext_quoted;
        } else if (is_token_char(static_cast<unsigned char>(c))) {
          state_ = State::ext_token_value;
        } else if (!is_space(c)) {
          return fail(s, "chunk extension without a value after '='");
        }
        ++i;
        break;
      case State::ext_token_value:
        if (!after_extension_item(c, State::ext_bws) &&
            !is_token_char(static_cast<unsigned char>(c))) {
          return fail(s, "invalid character in a chunk extension value");
        }
        ++i;
        break;
      case State::ext_quoted:
        // RFC 9110 §5.6.4: qdtext, or a backslash and the character it quotes.
        if (c == '"') {
          state_ = State::ext_value_end;
        } else if (c == '\\') {
          state_ = State::ext_quoted_pair;
        } else if (!is_field_value_char(static_cast<unsigned char>(c))) {
          return fail(s, "invalid character in a quoted chunk extension");
        }
        ++i;
        break;
      case State::ext_quoted_pair:
        if (!is_field_value_char(static_cast<unsigned char>(c))) {
          return fail(s, "invalid character in a quoted chunk extension");
        }
        state_ = State::ext_quoted;
        ++i;
        break;
      case State::ext_value_end:
        if (!after_extension_item(c, State::ext_bws)) {
          return fail(s, "invalid character after a quoted chunk extension");
        }
        ++i;
        break;
      case State::size_lf:
        if (c != '\n') return fail(s, "chunk size line not ended by CRLF");
        ++i;
        size_seen_ = false;
        significant_digits_ = 0;
        size_line_bytes_ = 0;
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
        if (++trailer_bytes_ > limits_.max_bytes)
          return fail_too_large(s, "trailer section too large");
        if (c == '\r') {
          if (!trailer_colon_ || trailer_line_bytes_ == 0)
            return fail(s, "malformed trailer field");
          state_ = State::trailer_lf;
        } else {
          if (!trailer_colon_) {
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
          trailer_text_.push_back(c);
        }
        ++i;
        break;
      case State::trailer_lf:
        if (c != '\n') return fail(s, "trailer line not ended by CRLF");
        if (++trailer_bytes_ > limits_.max_bytes)
          return fail_too_large(s, "trailer section too large");
        if (++trailer_count_ > limits_.max_fields)
          return fail_too_large(s, "too many trailer fields");
        trailer_text_.push_back('\n');
        state_ = State::trailer_start;
        ++i;
        break;
      case State::final_lf:
        if (c != '\n') return fail(s, "chunked body not ended by CRLF");
        index_trailers();
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
