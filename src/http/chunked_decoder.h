// A streaming decoder for the chunked transfer coding (RFC 9112 §7.1):
// fed any slices of the body, it yields the data inside them and validates
// sizes, extensions, line endings and trailers as it goes. It keeps the
// trailer section's fields (RFC 9112 §7.1.2), within bounds, for whoever
// forwards them once the body is done.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace sluice::http {

// How large a trailer section a decoder keeps; a larger one fails the body
// as any malformed chunked input does. A request's come from its
// listener's limits for the head (max_header_count, max_header_size);
// a response's are these.
struct TrailerLimits {
  std::size_t max_fields = 100;
  std::size_t max_bytes = 16 * 1024;  // the field lines, CRLFs included
};

class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(TrailerLimits limits = {}) : limits_(limits) {}

  struct Step {
    std::size_t consumed = 0;    // bytes of the input used by this step
    std::string_view data;       // chunk data found in the input (may be empty)
    std::size_t data_bytes = 0;  // == data.size()
    bool done = false;           // the last chunk and the trailer section ended
    bool error = false;
    // The error is a trailer section over its limits (a request's: 431,
    // RFC 6585 §5, as for a head over them), not malformed framing.
    bool too_large = false;
    const char* reason = "";
  };

  // Decodes from the start of `in` until it has one piece of data to hand
  // back, needs more input, ends, or fails. Call again with the input after
  // `consumed` (and more bytes appended) until done.
  Step decode(std::string_view in);
  bool done() const { return state_ == State::done; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  // Once done(): the trailer fields in the order they came, values without
  // their surrounding white space; empty when none came (then nothing was
  // allocated). Valid while the decoder lives.
  std::span<const HeaderField> trailers() const { return trailers_; }

  // Significant digits (after leading zeros): 2^64 - 1 at most.
  static constexpr std::size_t kMaxSizeDigits = 16;
  // A whole chunk size line (zeros, size, extensions): zeros cost nothing
  // to send, so they are bounded with the rest.
  static constexpr std::size_t kMaxSizeLineBytes = 4096;

 private:
  // The size line is chunk-size *( BWS ";" BWS name [ BWS "=" BWS value ] )
  // CRLF (RFC 9112 §7.1.1), one state per place in that grammar.
  enum class State : std::uint8_t {
    size,             // hex digits of the chunk size
    ext_bws,          // white space after the size or a value: only ';' may follow
    ext_name_start,   // after ';': white space, then a name
    ext_name,         // token characters of an extension name
    ext_name_bws,     // white space after a name: '=' or ';' may follow
    ext_value_start,  // after '=': white space, then a token or a quoted string
    ext_token_value,  // token characters of a value
    ext_quoted,       // inside a quoted-string value
    ext_quoted_pair,  // after a backslash inside a quoted string
    ext_value_end,    // after a quoted string's closing quote
    size_lf,          // CR seen after the size line
    data,             // chunk data
    data_cr,          // expecting CR after data
    data_lf,          // expecting LF after data
    trailer_start,    // at the start of a trailer line (or the final CRLF)
    trailer_line,     // inside a trailer field line
    trailer_lf,       // CR seen after a trailer line
    final_lf,         // CR seen on the empty line ending the trailers
    done,
    failed,
  };

  Step fail(Step s, const char* reason);
  Step fail_too_large(Step s, const char* reason);
  // After the size's digits: ';' or white space starts the extensions.
  bool enter_extension_after_size(char c);
  // After a name or a value: ';' starts another, CR ends the line, white
  // space moves to `on_space`; false for anything else.
  bool after_extension_item(char c, State on_space);
  // At the end of the trailer section: the fields, as views into the text.
  void index_trailers();

  State state_ = State::size;
  std::uint64_t size_ = 0;
  bool size_seen_ = false;              // at least one hex digit, zeros included
  std::size_t significant_digits_ = 0;  // hex digits after the leading zeros
  std::size_t size_line_bytes_ = 0;
  TrailerLimits limits_;
  std::size_t trailer_bytes_ = 0;
  std::size_t trailer_line_bytes_ = 0;
  std::size_t trailer_count_ = 0;
  bool trailer_colon_ = false;
  std::uint64_t body_bytes_ = 0;
  // The trailer lines as received ("name:value", each ended by '\n'):
  // only a body with trailers allocates.
  std::string trailer_text_;
  std::vector<HeaderField> trailers_;  // into trailer_text_, once done
};

}  // namespace sluice::http
