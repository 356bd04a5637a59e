// The server's side of an exchange over one upstream connection, whatever
// protocol the server speaks: HTTP/1 (http1_upstream.h) today, HTTP/2
// next. The exchange sends the request and reads the response through
// this interface and never writes or parses wire syntax itself.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/task.h"
#include "http/message.h"
#include "http/outgoing.h"
#include "proxy/downstream.h"
#include "proxy/exchange_error.h"

namespace sluice::proxy {

// A response head as read, or how reading it failed.
struct HeadRead {
  const http::ResponseHead* head = nullptr;  // valid until the next read
  bool failed = false;
  ExchangeError error;
};

class UpstreamCodec {
 public:
  virtual ~UpstreamCodec() = default;

  // Readies the request's head once for every try (HTTP/1: encodes it).
  // False: it cannot be sent (HTTP/1: larger than the buffer).
  virtual bool prepare(const http::OutgoingRequest& req) = 0;
  // Queues the prepared head on this try's connection: it leaves with the
  // first send_body(), so that head and body go in one write.
  virtual void queue_head() = 0;
  // A piece of the request body; `end` on the last one (it may be empty,
  // as is the only one of a request without a body). False: the server's
  // side failed, or the client left (send_cancelled()).
  virtual Task<bool> send_body(std::string_view data, bool end) = 0;
  // Ends the request body with trailer fields (already filtered, not
  // empty), instead of the last send_body(..., true): the data before went
  // with `end` false. A request that cannot carry them (HTTP/1: a body
  // framed by Content-Length) ends without them. False as for send_body().
  virtual Task<bool> send_trailers(std::span<const http::HeaderField> trailers) = 0;
  // Why the last send failed: the client cancelled, or the server's side.
  virtual bool send_cancelled() const = 0;

  // The next response head, 1xx included, until `deadline_ms` (loop clock).
  // `fields` holds the parsed fields; the caller may reorder them.
  virtual Task<HeadRead> read_head(std::uint64_t deadline_ms, std::span<http::HeaderField> fields,
                                   http::Method request_method) = 0;
  // The next piece of the final response's body, decoded. The first one
  // holds what came with the head.
  virtual Task<BodyPiece> read_body() = 0;
  // A byte of a response came on this connection (this try).
  virtual bool answer_started() const = 0;
  // The response ended at a clean boundary with nothing unread, and the
  // server did not ask to close: the connection may carry another exchange.
  virtual bool reusable() const = 0;
  // What came after the head of a 101 or 2xx to CONNECT (tunnel bytes),
  // inside the buffer a tunnel may then reuse.
  virtual std::string_view bytes_after_head() const = 0;
  virtual std::span<char> buffer() = 0;
};

}  // namespace sluice::proxy
