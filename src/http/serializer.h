// Writing HTTP/1.1 heads: status lines, the Date field, chunk framing.
// Writers take a caller's buffer and never allocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/h1_encoder.h"
#include "http/message.h"

namespace sluice::http {

// The standard reason phrase for `status` (RFC 9110 §15), or a generic one.
const char* reason_phrase(int status);

// Writes "Date: <IMF-fixdate>\r\n" (RFC 9110 §6.6.1, §5.6.7) into `out`,
// which must hold kDateFieldBytes; returns the bytes written. The text is
// formatted once per second per thread.
inline constexpr std::size_t kDateFieldBytes = 37;
std::size_t write_date_field(char* out);

// Writes "HTTP/1.1 <status> <reason>\r\n" + fields (+ "\r\n" when `end`)
// into out; returns bytes written, or 0 if it would not fit or `status` is
// not from 100 to 599.
std::size_t write_response_head(std::span<char> out, int status,
                                std::span<const HeaderField> fields, bool end = true);
// Writes "<method> <target> HTTP/1.1\r\n" + fields + "\r\n"; 0 if it would not fit.
std::size_t write_request_head(std::span<char> out, std::string_view method,
                               std::string_view target, std::span<const HeaderField> fields);
// "<hex size>\r\n" for a chunk of `size` bytes; out must hold 18 bytes (no
// NUL is written).
std::size_t write_chunk_size(char* out, std::uint64_t size);
// kLastChunk, the end of a chunked body, is in h1_encoder.h with the rest of
// the chunk framing; included above so callers of this header still see it.

}  // namespace sluice::http
