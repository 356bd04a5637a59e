// HTTP/1.1 wire syntax for the protocol-neutral heads of outgoing.h:
// request and response heads, the framing a body gets on an HTTP/1
// connection, the Connection fields, interim responses and chunk framing.
// Sans I/O: it writes into a caller's buffer (HeadWriter) and never
// allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "http/head_writer.h"
#include "http/outgoing.h"

namespace sluice::http {

// How a body travels on one HTTP/1 connection (RFC 9112 §6).
enum class H1Framing : std::uint8_t {
  none,     // no body follows the head
  length,   // Content-Length: N, then N bytes
  chunked,  // Transfer-Encoding: chunked
  close,    // the body ends when we close the connection (HTTP/1.0 peer)
};

// The framing of a message with `body` sent to a peer speaking HTTP/1.<minor>:
// sized -> length; streamed -> chunked to 1.1, close to 1.0; none -> none.
H1Framing choose_framing(BodyKind body, int peer_minor);

// What an HTTP/1 response says about the connection (RFC 9112 §9.3).
struct H1Persistence {
  int peer_minor = 1;      // the client's HTTP/1.<minor>
  bool keep_alive = true;  // the connection stays open after this response
  // The listener's announcement ("Connection: keep-alive\r\nKeep-Alive:
  // timeout=N\r\n"), empty when it does not announce.
  std::string_view keep_alive_fields;
};

// "Connection: close" when !keep_alive; else the announcement when there is
// one; else "Connection: keep-alive" to an HTTP/1.0 peer; else nothing
// (HTTP/1.1 is persistent by default).
void write_connection_fields(HeadWriter& out, const H1Persistence& p);

// "<method> <target> HTTP/1.1", Host first, the fields, the framing
// (Content-Length for sized, Transfer-Encoding: chunked for streamed),
// "Connection: upgrade" when asked, and the blank line. False on overflow.
bool encode_request_head(HeadWriter& out, const OutgoingRequest& req);

// "HTTP/1.1 <status> <reason>", the fields, `extra` (pre-written lines
// such as a Date field; may be empty), the framing field for `framing`
// (Content-Length: length / Transfer-Encoding: chunked / nothing), the
// Connection fields (for a 101 "Connection: upgrade" instead), and the
// blank line. False on overflow.
bool encode_response_head(HeadWriter& out, const OutgoingResponse& res, H1Framing framing,
                          const H1Persistence& p, std::string_view extra = {});

// A 1xx response (not 101): status line, fields, blank line.
bool encode_interim(HeadWriter& out, const OutgoingResponse& res);

// RFC 9110 §10.1.1: what a client waiting on "Expect: 100-continue" gets.
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Chunk framing for one piece of a streamed body: "<hex size>\r\n" before
// the data (out holds 18 bytes; returns its length) and "\r\n" after it.
std::size_t write_chunk_header(char* out, std::uint64_t size);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
// The end of a last data chunk and the last chunk, in one piece.
inline constexpr std::string_view kChunkEndThenLast = "\r\n0\r\n\r\n";

// The framing around one piece of a chunked body (RFC 9112 §7.1): the size
// line before the data (none for empty data) and what follows it (the
// data's CRLF, then the last chunk when `end`). `size_line` holds 18 bytes.
struct ChunkFrame {
  std::string_view before;
  std::string_view after;
};
ChunkFrame frame_chunk(char* size_line, std::size_t data_size, bool end);

// The last chunk with a trailer section (RFC 9112 §7.1.2): "0\r\n", the
// fields, and the blank line that ends the body. The fields are written as
// given: the caller filtered them (http/trailer_fields.h). False on
// overflow.
bool encode_last_chunk(HeadWriter& out, std::span<const HeaderField> trailers);

// A listener's keep-alive announcement: "Connection: keep-alive" and
// "Keep-Alive: timeout=N" (RFC 2068 §19.7.1), for H1Persistence.
std::string keep_alive_announcement(std::uint64_t timeout_seconds);

}  // namespace sluice::http
