// The middlewares a request passes (docs/config.md, "middlewares"), and one
// request's pass through them: the request side in order, then, for a
// request that goes on, the edits to what is forwarded and the response
// filters (applied by filtered_downstream.h in reverse order).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/task.h"
#include "http/outgoing.h"
#include "middleware/middleware.h"

namespace sluice {
class SocketAddress;
}
namespace sluice::http {
struct RequestHead;
}
namespace sluice::route {
struct Captures;
struct Route;
}  // namespace sluice::route

namespace sluice::proxy {

struct ListenerSettings;
struct RequestTarget;
struct Snapshot;

// A route's (or a listener's default) middlewares, in order. Shared by the
// snapshot and every request that passes it; a request pins the chain, and
// so the middlewares, not the snapshot.
struct MiddlewareChain {
  std::vector<std::shared_ptr<middleware::Middleware>> items;
  std::vector<std::string> names;  // the definitions' names, for logs
  std::size_t wants_body = 0;      // the most request body any of them reads first
};

// The chain for `route` on `listener`: the route's own list when it names
// one (maybe empty), else the listener's. Null: none applies.
std::shared_ptr<const MiddlewareChain> chain_for(const Snapshot& now,
                                                 const ListenerSettings& listener,
                                                 const route::Route& route);

// What the request looks like to middlewares; views into `head`, `t` and
// `captures`, which must outlive it.
struct MiddlewareRequest {
  middleware::Request request;
  std::array<std::string_view, 16> captures{};
  std::string host;  // lower case, without port or trailing dot
};
void describe_request(const http::RequestHead& head, const RequestTarget& t,
                      const route::Captures& captures, const route::Route& route,
                      const SocketAddress& client, bool secure, MiddlewareRequest& out);

// Stands in for a middleware that could not be built: answers 503.
std::shared_ptr<middleware::Middleware> unavailable_middleware();

// One request's pass through a chain.
class MiddlewarePass {
 public:
  explicit MiddlewarePass(std::shared_ptr<const MiddlewareChain> chain)
      : chain_(std::move(chain)) {}

  // Runs each middleware's request side in order, until one answers.
  Task<middleware::Verdict> run(const middleware::Context& ctx, const middleware::Request& r);

  const MiddlewareChain& chain() const { return *chain_; }
  // Who answered (after Verdict::answer), for the log line.
  std::string_view answered_by() const { return answered_by_; }
  middleware::Answer& answer() { return answer_; }
  const middleware::Answer& answer() const { return answer_; }
  const middleware::RequestEdits& edits() const { return edits_; }
  // The filters of the middlewares that asked to see the response, in
  // chain order (the response passes them last to first).
  std::vector<std::unique_ptr<middleware::ResponseFilter>>& filters() { return filters_; }

 private:
  std::shared_ptr<const MiddlewareChain> chain_;
  middleware::RequestEdits edits_;
  middleware::Answer answer_;
  std::vector<std::unique_ptr<middleware::ResponseFilter>> filters_;
  std::string_view answered_by_;
};

class FilteredDownstream;

// The request body the chain asked for (Middleware::wants_body): what
// `ahead` read of it, or none when nothing was read ahead (`no_body`: the
// request has none, so the empty body is whole).
void describe_body(const FilteredDownstream* ahead, std::size_t wanted, bool no_body,
                   middleware::Request& out);

// A middleware's answer as a response head with a sized body; its fields
// are views into `answer`, listed in `fields`.
http::OutgoingResponse answer_head(const middleware::Answer& answer,
                                   std::vector<http::HeaderField>& fields);

// Filters, in chain order, as a request holds them.
using ResponseFilters = std::span<const std::unique_ptr<middleware::ResponseFilter>>;

// An answer of our own (a respond or redirect route's) through the filters
// that leave bodies alone (a body we send as it is cannot be compressed on
// its way): `fields` in, `head` holds the result (and what the filters
// wrote) on return.
void filter_local_head(ResponseFilters filters, int status, bool has_body,
                       std::span<const http::HeaderField> fields, middleware::ResponseHead& head);

// The log line of a middleware's answer: warn for 5xx (the middleware
// failed: an auth server away), debug for the rest (a denial is routine).
void log_middleware_answer(std::string_view listener, std::string_view route,
                           const MiddlewarePass& pass, const SocketAddress& client);

}  // namespace sluice::proxy
