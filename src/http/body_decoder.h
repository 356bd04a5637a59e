// One decoder for every HTTP/1 message body (RFC 9112 §6.3): exactly N
// bytes, the chunked coding (checked by ChunkedDecoder), or everything
// until the connection closes. Fed the bytes in a buffer, it moves the
// body's data to the buffer's front, in place, and says how much input it
// used, so one loop serves request bodies, response bodies and bodies that
// are read only to be dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "http/chunked_decoder.h"
#include "http/message.h"

namespace sluice::http {

class BodyDecoder {
 public:
  // content_length: `length` bytes; chunked (with a trailer section
  // within `trailer_limits`); close_delimited: until end_of_input(); none:
  // done at once.
  BodyDecoder(Framing framing, std::uint64_t length, TrailerLimits trailer_limits = {});

  struct Result {
    std::size_t consumed = 0;    // input bytes used (framing included)
    std::size_t data_bytes = 0;  // body data now at in[0, data_bytes)
    bool done = false;           // the body ended within `consumed`
    // Malformed framing: `reason` says what. Nothing more is read from the
    // connection; `consumed` may stop short of the bytes that failed.
    bool error = false;
    bool too_large = false;  // the error: a trailer section over its limits
    const char* reason = "";
  };
  // Decodes as much of `in` as belongs to this body, moving its data within
  // in[0, consumed) to the front. Bytes after the body's end (a pipelined
  // message) are not consumed and not touched: in[consumed, size) is as it
  // was. Bytes not consumed short of the end (half a chunk size line) are
  // to be passed again, with more behind them. Once done, a call consumes
  // nothing; once failed, every call fails with the same reason.
  Result decode(std::span<char> in);
  // The connection closed: a close-delimited body ends; any other body
  // not yet done was cut short (false). True once the body is done.
  bool end_of_input();

  bool done() const;
  std::uint64_t body_bytes() const;  // data bytes decoded so far
  // Once done(): a chunked body's trailer fields; empty when none came (or
  // for any other framing). Valid while the decoder lives.
  std::span<const HeaderField> trailers() const { return chunked_.trailers(); }
  Framing framing() const { return framing_; }

 private:
  Result decode_length(std::span<char> in);
  Result decode_chunked(std::span<char> in);

  Framing framing_;
  std::uint64_t remaining_ = 0;  // content_length
  std::uint64_t body_bytes_ = 0;
  bool done_ = false;
  const char* error_ = nullptr;   // why the chunked framing failed; set once
  bool error_too_large_ = false;  // ... and it was the trailer section's size
  ChunkedDecoder chunked_;
};

}  // namespace sluice::http
