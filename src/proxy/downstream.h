// The client's side of an exchange, whatever protocol the client speaks:
// an HTTP/1 connection (http1_downstream.h) today, one HTTP/2 stream next.
// The exchange reads the request body and sends the response through this
// interface and never writes wire syntax itself.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/task.h"
#include "http/message.h"
#include "http/outgoing.h"
#include "proxy/exchange_error.h"

namespace sluice {
class ByteStream;
class SocketAddress;
}  // namespace sluice

namespace sluice::observe {
struct RequestRecord;
}

namespace sluice::proxy {

// One piece of a message body, decoded (no framing). Valid until the
// next read_body().
struct BodyPiece {
  std::string_view data;
  // Only on the piece with `end`: the trailer fields that ended the body
  // (RFC 9110 §6.5), as received, unfiltered; empty when none came.
  std::span<const http::HeaderField> trailers;
  bool end = false;     // the body ended with this piece
  bool failed = false;  // reading failed: `error` says how
  // The read that gave this piece filled its buffer: more of the body is
  // most likely waiting already, so its send may let the kernel hold a
  // partial frame for it (MSG_MORE: fewer, fuller segments).
  bool more_waiting = false;
  ExchangeError error;
};

enum class HeadSent : std::uint8_t {
  queued,     // it leaves with the first body piece
  too_large,  // the head does not fit what the client's codec can send
};

class Downstream {
 public:
  virtual ~Downstream() = default;

  // The next piece of the request body; first what is already buffered,
  // then what the client sends (after a 100 Continue when it waits for
  // one). A request without a body gives one empty piece with `end`.
  virtual Task<BodyPiece> read_body() = 0;
  // The whole request body has been read (the connection may carry
  // another request after the response).
  virtual bool body_read() const = 0;

  // A 1xx response (not 101). False: the client is gone.
  virtual Task<bool> send_interim(const http::OutgoingResponse& res) = 0;
  // Queues the final response head: it leaves with the first send_body()
  // (or tunnel()), so that head and body go in one write. No I/O.
  virtual HeadSent queue_head(const http::OutgoingResponse& res) = 0;
  // A piece of the response body; `end` on the last one (it may be empty,
  // as is the only one of a response without a body).
  virtual Task<bool> send_body(std::string_view data, bool end) = 0;
  // Before send_body(): more of the body will follow at once (BodyPiece::
  // more_waiting). A hint; a client codec that cannot use it ignores it.
  virtual void more_follows(bool) {}
  // Ends the response body with trailer fields (already filtered, not
  // empty), instead of the last send_body(..., true): the data before went
  // with `end` false. A client that cannot receive them (HTTP/1.0, or a
  // body framed by Content-Length) gets the body's end without them.
  // False: the client is gone.
  virtual Task<bool> send_trailers(std::span<const http::HeaderField> trailers) = 0;
  // The whole response body from the open file `fd`: `length` (> 0) bytes
  // from `offset`, after a head queued with a sized body of that length
  // (reproxy's X-Sendfile). This default reads the file into memory, piece
  // by piece, and sends it with send_body() (TLS, HTTP/2, response
  // filters); an HTTP/1 client over plain TCP gets it by sendfile(2)
  // (downstream_file.cpp). False: the client is gone or the file shrank.
  virtual Task<bool> send_file(int fd, std::uint64_t offset, std::uint64_t length);
  // The response was cut off: tell the client at once (HTTP/1: close the
  // connection without a lingering read; HTTP/2: reset the stream).
  virtual void reset() = 0;

  // After a 101 or a 2xx to CONNECT, the head having been sent: relays
  // bytes both ways between the client and `server` until both sides are
  // done. `server_pending`: the server's bytes after the head, inside
  // `server_buffer`, which the tunnel reuses once they are sent.
  virtual Task<void> tunnel(ByteStream& server, std::string_view server_pending,
                            std::span<char> server_buffer, std::uint64_t write_timeout_ms) = 0;

  // The client as the proxy names it (X-Forwarded-For, hash by source):
  // from the PROXY header when there was one.
  virtual const SocketAddress& client_address() const = 0;
  // The connection is encrypted (X-Forwarded-Proto: https).
  virtual bool is_secure() const = 0;
  // The subject (RFC 2253) of the client certificate verified on this
  // connection; empty when none was asked for, sent or verified.
  virtual std::string_view client_certificate_subject() const = 0;
  // The connection carried requests before this one (RFC 9112 §9.3.1: the
  // client can retry a request that got only a close).
  virtual bool earlier_requests() const = 0;

  // Where the response's status and the bytes that cross the client's
  // connection are counted (request_finish.h); null: not recorded.
  void set_record(observe::RequestRecord* record) { record_ = record; }

 protected:
  observe::RequestRecord* record_ = nullptr;
};

}  // namespace sluice::proxy
