// What a request is routed by and forwarded as, whatever protocol brought
// it: the target split and its path normalised (RFC 3986 §6), the route
// the configuration in force picks for it, and the route's rewrite. Shared
// by the HTTP/1 session and HTTP/2 streams, so that both route, and
// forward, exactly the same thing.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.h"
#include "route/path_normalizer.h"
#include "route/route_table.h"

namespace sluice::proxy {

struct Backend;
struct ListenerSettings;
struct Snapshot;

// A host without its port ("[v6]:p" keeps its brackets).
std::string_view strip_port(std::string_view host);

// The host a request is routed by: its port stripped, a trailing dot
// dropped, lower-cased into `lower` (a host longer than it is left as it
// is, and then matches no route's host). A view of `host` or `lower`.
std::string_view routing_host(std::string_view host, std::array<char, 256>& lower);

// What a request's target is as routed and as forwarded; its strings keep
// their capacity over a burst of requests.
struct RequestTarget {
  route::RequestView view;
  std::string_view target;  // what the backend receives
  std::string normalized;   // the path in normal form
  std::string forwarded;    // the target sent, when not head.target
  route::PathOptions path_options;
};

// The target as routed and forwarded: its path normalised; when that
// differs from the received path in any byte, a target rebuilt from it.
route::PathError resolve_target(const http::RequestHead& head, const ListenerSettings& listener,
                                RequestTarget& t);

// The route the configuration `now` gives the request on listener slot
// `slot` (present in `now`), and its backend when it forwards. Null: no
// route matches. Pins only the route and backend, never the snapshot.
std::shared_ptr<const route::Route> find_route(const Snapshot& now, std::size_t slot,
                                               const http::RequestHead& head,
                                               route::RequestView& view, route::Captures& captures,
                                               std::shared_ptr<const Backend>& backend);

// A backend route's rewrite of the target. False: it gives an invalid one.
bool apply_rewrite(const route::Route& route, const route::Captures& captures, RequestTarget& t);

}  // namespace sluice::proxy
