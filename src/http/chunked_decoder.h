// A streaming decoder for the chunked transfer coding (RFC 9112 §7.1):
// fed any slices of the body, it yields the data inside them and validates
// sizes, extensions, line endings and trailers as it goes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::http {

class ChunkedDecoder {
 public:
  struct Step {
    std::size_t consumed = 0;    // bytes of the input used by this step
    std::string_view data;       // chunk data found in the input (may be empty)
    std::size_t data_bytes = 0;  // == data.size()
    bool done = false;           // the last chunk and the trailer section ended
    bool error = false;
    const char* reason = "";
  };

  // Decodes from the start of `in` until it has one piece of data to hand
  // back, needs more input, ends, or fails. Call again with the input after
  // `consumed` (and more bytes appended) until done.
  Step decode(std::string_view in);
  bool done() const { return state_ == State::done; }
  std::uint64_t body_bytes() const { return body_bytes_; }

  static constexpr std::size_t kMaxSizeDigits = 16;        // 2^64 - 1 at most
  static constexpr std::size_t kMaxExtensionBytes = 4096;  // per chunk line
  static constexpr std::size_t kMaxTrailerBytes = 16 * 1024;

 private:
  enum class State : std::uint8_t {
    size,           // hex digits of the chunk size
    extension,      // after ';' up to CR
    size_lf,        // CR seen after the size line
    data,           // chunk data
    data_cr,        // expecting CR after data
    data_lf,        // expecting LF after data
    trailer_start,  // at the start of a trailer line (or the final CRLF)
    trailer_line,   // inside a trailer field line
    trailer_lf,     // CR seen after a trailer line
    final_lf,       // CR seen on the empty line ending the trailers
    done,
    failed,
  };

  Step fail(Step s, const char* reason);

  State state_ = State::size;
  std::uint64_t size_ = 0;
  std::size_t digits_ = 0;
  std::size_t extension_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t trailer_line_bytes_ = 0;
  bool trailer_colon_ = false;
  bool extension_quoted_ = false;
  std::uint64_t body_bytes_ = 0;
};

}  // namespace sluice::http
