// GET /routes: the routes in force, searched on the server side so that a
// page shows a few of 5,000 without fetching them all.
//
//   GET /routes?search=TEXT&offset=N&limit=N
//     JSON {"total", "matched", "offset", "routes": [...]}: the routes in
//     configuration order whose name, host, path or backend holds every
//     word of TEXT (case aside); `limit` of them (100 unless given, at
//     most 1000) from the `offset`-th match on. 400 for a malformed query.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "admin/endpoints.h"

namespace sluice::proxy {
class Server;
}

namespace sluice::admin {

struct RouteQuery {
  static constexpr std::size_t kDefaultLimit = 100;
  static constexpr std::size_t kMaxLimit = 1000;
  std::string search;  // percent-decoded, '+' as a space
  std::size_t offset = 0;
  std::size_t limit = kDefaultLimit;
};

// The query of a /routes target, or its 400: a malformed %-escape, a
// limit or offset that is not a number, a limit of 0 or over kMaxLimit.
// Unknown parameters are ignored.
std::variant<RouteQuery, AdminResponse> parse_route_query(std::string_view target);

AdminResponse list_routes(const RouteQuery& query, const proxy::Server& server);

}  // namespace sluice::admin
