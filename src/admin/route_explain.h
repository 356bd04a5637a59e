// GET /routes/explain: which route a request would get, and why.
//
//   GET /routes/explain?host=H&path=P[&method=M][&listener=L][&h.NAME=V...][&limit=N]
//
// host: the Host field (port allowed); path: the request target as a
// client sends it, query included, %-encoded once more as any query value
// is ('+' is a space); method: GET unless given; listener: an HTTP
// listener's name, the first one unless given; h.NAME=V: a request field
// (repeatable); limit: how many near misses to list (0..100, default 20).
//
// 200 with JSON whatever the verdict: the request as routed (its
// normalised path and host), the winning route (name, rank, priority, host
// and path rule, action, backend) or none (the client gets 404), or the
// 400 the normaliser gives the path; how many routes of the listener lost
// on each check; and the near misses, closest first, each with the checks
// it failed. 400 for a missing or malformed parameter, an unknown one, or
// an unknown listener.
//
// The verdict comes from the router itself (route::RouteTable::explain,
// the normaliser and the host rule the proxy uses), so it cannot differ
// from what a request gets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "admin/endpoints.h"

namespace sluice::proxy {
class Server;
struct Snapshot;
}  // namespace sluice::proxy

namespace sluice::admin {

struct ExplainQuery {
  std::string host;
  std::string target;  // path and query, as a client sends them
  std::string method = "GET";
  std::string listener;  // "": the first HTTP listener
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t limit = 20;
  static constexpr std::size_t kMaxLimit = 100;
};

// The query of GET /routes/explain, decoded and checked, or its 400.
std::variant<ExplainQuery, AdminResponse> parse_explain_query(std::string_view target);

// The explanation against `snapshot`.
AdminResponse explain(const ExplainQuery& query, const proxy::Snapshot& snapshot);

// GET /routes/explain against the configuration in force.
AdminResponse explain_route(std::string_view target, proxy::Server& server);

}  // namespace sluice::admin
