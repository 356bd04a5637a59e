// A middleware: a named definition under `middlewares:` (docs/config.md),
// attached in order to routes or as a listener's default. A request passes
// the chain in order before it goes on (any middleware may answer it
// instead); its response passes the filters the middlewares chose, in
// reverse order, on its way to the client.
//
// One object per definition, shared by every worker and every route that
// names it: its state (token buckets, decision caches) is the definition's.
// What must not be shared between threads (connections to an auth server)
// is kept per worker, indexed by Context::worker. A reload that leaves a
// definition unchanged keeps its object, and so its state
// (middleware_set.h).
//
// This layer knows no client protocol: the proxy (L4) hands it a Request
// built from an HTTP/1 or HTTP/2 request and applies what it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/task.h"
#include "http/message.h"

namespace sluice {
class CancelToken;
class EventLoop;
class SocketAddress;
}  // namespace sluice

namespace sluice::middleware {

// An owned header field.
struct Field {
  std::string name;
  std::string value;
};

// The request as middlewares see it. Views, valid while on_request runs.
struct Request {
  std::string_view method;
  std::string_view scheme;                    // "http" or "https": what the client used
  std::string_view host;                      // lower case, without port (the route matched it)
  std::string_view authority;                 // Host as the client sent it (with its port, if any)
  std::string_view path;                      // normalised (what the route matched)
  std::string_view query;                     // without '?'; empty when absent
  std::string_view target;                    // as the client sent it: X-Forwarded-Uri
  std::span<const http::HeaderField> fields;  // as received, hop-by-hop included
  // The client: the PROXY header's address when there was one, else the
  // peer. Never null.
  const SocketAddress* client = nullptr;
  std::string_view route;                      // the matched route's name
  std::span<const std::string_view> captures;  // its path_regex captures (0 = whole match)
  int version = 11;                            // 10, 11 or 20
  std::string_view request_id;  // the id backends and logs see (top-level request_id); empty: off
  // The request body read so far, when a middleware of the chain asked for
  // it (Middleware::wants_body); `body_complete`: it is the whole body.
  std::string_view body;
  bool body_complete = false;
  std::uint64_t now_ms = 0;  // the worker's clock (monotonic)
};

// What the chain changes in the request it forwards, applied in this order
// after every middleware ran: remove, then set (replaces every field of the
// name), then add. Names compare case-insensitively. The proxy never lets
// these touch Host or framing fields.
struct RequestEdits {
  std::vector<std::string> remove;
  std::vector<Field> set;
  std::vector<Field> add;
  // The smallest limit on the request body any middleware set: above it
  // the client gets 413 (before or while the body streams). 0: none.
  std::uint64_t max_body_bytes = 0;

  bool empty() const { return remove.empty() && set.empty() && add.empty() && max_body_bytes == 0; }
};

// An answer of a middleware's own: the request goes no further, the client
// gets this (over HTTP/1 or HTTP/2; the proxy adds Date, framing and its
// connection fields, and sends no body to HEAD).
struct Answer {
  int status = 0;
  std::vector<Field> fields;  // end-to-end fields, in order; no framing fields
  std::string body;
  std::string reason;  // one line for the log: why (never sent)
};

// A response head as the filters see and change it. Fields are views;
// values a filter writes are kept in `storage` (make() copies into it).
struct ResponseHead {
  int status = 200;
  std::vector<http::HeaderField> fields;  // end-to-end, no framing fields
  bool has_body = true;                   // false: HEAD, 1xx, 204, 304
  bool length_known = false;              // the body's length is `length`
  std::uint64_t length = 0;

  std::string_view get(std::string_view name) const;  // first value; empty when absent
  bool has(std::string_view name) const;
  void remove(std::string_view name);
  void set(std::string_view name, std::string_view value);  // replaces every field of the name
  void add(std::string_view name, std::string_view value);
  // A copy of `text` that lives as long as this head.
  std::string_view make(std::string_view text);

 private:
  std::vector<std::unique_ptr<std::string>> storage_;
};

// The response side of one request, made by a middleware's on_request when
// it wants to see the response. Used by one exchange on one worker.
class ResponseFilter {
 public:
  virtual ~ResponseFilter() = default;
  // The final response head (not 1xx): edit fields, or the body's framing
  // (a filter that changes the body clears length_known).
  virtual void on_head(ResponseHead& head) = 0;
  // True when on_body must see the body; false: bytes pass untouched and
  // on_body is never called.
  virtual bool transforms_body() const { return false; }
  // Bytes of the body in, bytes out (appended to `out`); `end` on the last
  // call (its `in` may be empty). False: the filter failed, the response is
  // cut off.
  virtual bool on_body(std::string_view in, bool end, std::string& out) {
    (void)end;
    out.append(in);
    return true;
  }
};

// Where a middleware runs: the worker's loop, for I/O and timers.
struct Context {
  EventLoop* loop = nullptr;
  CancelToken* cancel = nullptr;  // the client's connection: cancelled when it goes
  std::size_t worker = 0;         // 0 .. workers-1: index of per-worker state
};

// What on_request decided.
enum class Verdict : std::uint8_t {
  next,    // the request goes on (with `edits`)
  answer,  // the client gets `answer`; nothing else runs
};

class Middleware {
 public:
  virtual ~Middleware() = default;

  // Bytes of request body to read before on_request runs (forward_auth
  // with body forwarding); 0: none. The proxy reads at most this many and
  // still forwards the whole body.
  virtual std::size_t wants_body() const { return 0; }

  // The request side. May suspend (I/O on ctx.loop). Sets `answer` and
  // returns Verdict::answer to stop the request; adds to `edits` to change
  // what is forwarded; sets `filter` to see the response.
  virtual Task<Verdict> on_request(const Context& ctx, const Request& request, RequestEdits& edits,
                                   Answer& answer, std::unique_ptr<ResponseFilter>& filter) = 0;
};

}  // namespace sluice::middleware
