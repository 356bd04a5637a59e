// The route table: which route answers a request. Compiled once per
// configuration: per listener, exact hosts in a hash map, wildcard hosts
// by their suffix (most specific first), and per host the exact paths in a
// hash map, path prefixes in a radix tree and all path regexes in one
// RE2::Set. A lookup costs a few hash probes, one walk down the path and
// at most one RE2::Set pass per host bucket, whatever the number of routes;
// captures are extracted only for the route that wins.
//
// Priority (deterministic, docs/config.md): higher `priority` first; then
// exact host over wildcard (longer suffix first) over any host; then exact
// path over longer prefix over shorter prefix over regex over no path;
// then file order.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/live_count.h"
#include "core/uninitialized_array.h"
#include "http/message.h"
#include "route/path_normalizer.h"

namespace re2 {
class RE2;
}

namespace sluice::config {
struct Config;
}

namespace sluice::route {

// What a matched route does.
enum class ActionKind : std::uint8_t {
  respond,   // the built-in responder answers
  backend,   // forward to a backend's servers
  redirect,  // answer 3xx with a Location
};

// A response prepared once at load time. `head` holds the status line, the
// configured fields and Content-Length, each line ending in CRLF, without the
// blank line: per request only Date and connection fields are added.
// A `respond` action's answer, protocol-neutral: the client's codec writes
// it (and adds Date and its connection fields).
struct PreparedResponse {
  static constexpr std::size_t kMaxFields = 32;  // kept on the stack; more go to the heap
  int status = 200;
  std::vector<std::pair<std::string, std::string>> fields;  // in order
  std::string body;
  // RFC 9110 §8.6, §15.3.5, §15.4.5: 1xx, 204 and 304 have no content (and
  // no Content-Length).
  bool has_content = true;

  // Views of `fields` in `out` (at most kMaxFields); returns how many.
  std::size_t fields_into(std::span<http::HeaderField> out) const {
    const std::size_t n = std::min(fields.size(), out.size());
    for (std::size_t i = 0; i < n; ++i)
      out[i] = {fields[i].first, fields[i].second};
    return n;
  }
};

// "/users/$1" or "/u/${id}", split at load time: literal text and capture
// group numbers.
class Template {
 public:
  struct Piece {
    std::string literal;
    int group = -1;  // >= 0: insert this capture
  };
  std::vector<Piece> pieces;
  bool empty() const { return pieces.empty(); }
};

struct HeaderCondition {
  enum class Kind : std::uint8_t { exact, regex, present };
  std::string name;
  Kind kind = Kind::exact;
  std::string value;
  std::shared_ptr<const re2::RE2> regex;
};

struct QueryCondition {
  std::string name;
  bool present_only = false;
  std::string value;
};

struct Rewrite {
  Template path;  // empty: keep the (normalised) path
  std::string strip_prefix;
  std::string add_prefix;
  std::string host;  // empty: keep Host
};

struct Redirect {
  int status = 302;
  std::string scheme;  // empty: keep the request's (http)
  std::string host;    // empty: keep the request's Host
  std::string port;    // empty: none / the scheme's default
  Template path;       // empty: keep the request's path
  bool keep_query = true;
};

struct Route {
  std::string name;
  std::vector<bool> on_listener;  // indexed by listener
  int priority = 0;
  std::string host;  // exact host, "*.suffix" wildcard, or empty (any)
  enum class PathKind : std::uint8_t { any, regex, prefix, exact } path_kind = PathKind::any;
  std::string path;  // prefix or exact path, or the regex source
  std::shared_ptr<const re2::RE2> path_regex;
  std::vector<std::string> methods;  // empty: any method
  std::vector<HeaderCondition> headers;
  std::vector<QueryCondition> query;
  ActionKind action = ActionKind::respond;
  std::string backend;
  std::size_t backend_index = 0;  // position of `backend` among the configured backends
  bool allow_connect = false;     // CONNECT opens a tunnel through the backend
  // Only an X-Accel-Redirect lookup (RequestView::internal) matches it:
  // no client request reaches it directly.
  bool internal = false;
  bool reproxy = false;        // has a reproxy block (proxy/reproxy.h holds its settings)
  std::size_t file_index = 0;  // position in the configuration
  std::uint32_t rank = 0;      // position in its table (0 = first to win)
  std::uint32_t metrics_slot = UINT32_MAX;  // its series (observe/); UINT32_MAX: none
  LiveCount<Route> live;  // routes in memory: the current table's, and pinned ones

  // The action's details, each out of line: a route has at most one of
  // them (most have none: a backend without a rewrite), and held inline
  // all three were half of a route's 656 bytes (1.5 MB of 4,800 routes).
  // Empty ones when the route has none.
  const PreparedResponse& respond() const;
  const Redirect& redirect() const;
  const Rewrite& rewrite() const;
  bool has_rewrite() const { return rewrite_ != nullptr; }
  std::unique_ptr<const PreparedResponse> respond_;
  std::unique_ptr<const Redirect> redirect_;
  std::unique_ptr<const Rewrite> rewrite_;
};

// What the router looks at. `host` is lower-case without port; `path` is
// already normalised (path_normalizer.h).
struct RequestView {
  std::size_t listener = 0;
  std::string_view host;
  std::string_view path;
  std::string_view query;  // without '?'; empty when absent
  std::string_view method;
  std::span<const http::HeaderField> fields;
  // An X-Accel-Redirect lookup: internal routes match too. Never set for
  // a client's request.
  bool internal = false;
};

// Capture groups of the winning route's path_regex (0 = whole match).
struct Captures {
  static constexpr int kMax = 16;
  // Only the first `count` are set, and read: every request makes one, and
  // most routes capture nothing (zeroing 256 bytes a request for nothing).
  UninitializedArray<std::string_view, kMax> groups;
  int count = 0;
};

// Why one route does or does not answer a request: each check the router
// makes, in its order (RouteTable::explain).
struct RouteVerdict {
  const Route* route = nullptr;
  bool host = true;      // its host rule admits the request's host
  bool path = true;      // its path rule admits the normalised path
  bool internal = true;  // not an internal route, or an internal lookup
  bool method = true;
  const HeaderCondition* header = nullptr;  // the first header condition that fails
  const QueryCondition* query = nullptr;    // the first query condition that fails
  int failures() const {
    return !host + !path + !internal + !method + (header != nullptr) + (query != nullptr);
  }
};

// What RouteTable::explain() found.
struct Explanation {
  const Route* winner = nullptr;  // what match() gives the request; null: none (404)
  std::size_t considered = 0;     // routes on the request's listener
  // Routes that lost, counted by the first check they failed in the
  // router's order; `outranked` matched every check but rank lower.
  struct Counts {
    std::size_t host = 0, path = 0, internal = 0, method = 0, header = 0, query = 0, outranked = 0;
  } lost;
  // The losers closest to winning: fewest failed checks first, then by
  // rank; at most the limit asked for. `more` counts those left out.
  std::vector<RouteVerdict> near_misses;
  std::size_t more = 0;
  // False if a route ranked above the winner passes every check: the
  // index and the checks disagree (a bug; the winner is still match()'s).
  bool consistent = true;
};

// A problem found in one route (by its position in the configuration).
struct RouteFinding {
  std::size_t route = 0;
  std::string message;
};

// Compiled regexes and regex sets by pattern, kept from one build to the
// next so that a reload compiles only the patterns that changed (RE2
// objects are immutable and thread-safe, so tables can share them).
// Used by one thread at a time (the one that builds).
class RegexCache {
 public:
  RegexCache();
  ~RegexCache();
  RegexCache(const RegexCache&) = delete;
  RegexCache& operator=(const RegexCache&) = delete;
  // Drops what no live table uses any more.
  void forget_unused();
  std::size_t compiled() const;  // regexes and sets held

  struct Entries;  // route_table.cpp

 private:
  friend class RouteTable;
  std::unique_ptr<Entries> entries_;
};

class RouteTable {
 public:
  RouteTable();
  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Builds the table from a validated configuration. Regexes that RE2
  // rejects make `errors` non-empty ("route 'x': match.path_regex: ...").
  // With a `cache`, patterns compiled by an earlier build are reused.
  // `metrics_slots`: each route's Route::metrics_slot, by position in the
  // configuration (null: none).
  static std::shared_ptr<const RouteTable> build(
      const config::Config& config, std::vector<RouteFinding>* errors = nullptr,
      RegexCache* cache = nullptr, const std::vector<std::uint32_t>* metrics_slots = nullptr);

  // The best route for the request, or null; fills `captures` for a
  // path_regex route.
  const Route* match(const RequestView& request, Captures* captures = nullptr) const;
  // A reference to one of this table's routes that keeps the route (not
  // the table) alive: what a request in flight holds.
  std::shared_ptr<const Route> pin(const Route& route) const { return routes_[route.rank]; }
  // The route of rank `rank` (below size()).
  const std::shared_ptr<const Route>& at(std::size_t rank) const { return routes_[rank]; }
  // Tables in memory, in this process: what /debug/memory reports.
  static std::size_t alive() { return LiveCount<RouteTable>::alive(); }

  // Routes that can never match because a route of higher rank matches
  // every request they would ("route 'b' is shadowed by route 'a'").
  std::vector<RouteFinding> shadowed() const;

  // Why `request` gets the route it gets (the same as match()'s) and why
  // each other route of its listener does not, for an operator (GET
  // /routes/explain): one check of every route, so for the admin API only,
  // never the request path.
  Explanation explain(const RequestView& request, std::size_t near_miss_limit) const;
  RouteVerdict judge(const Route& route, const RequestView& request) const;

  std::size_t size() const { return routes_.size(); }
  // Every route, by rank (what the admin's GET /routes lists).
  std::span<const std::shared_ptr<const Route>> routes() const { return routes_; }

 private:
  struct HostBucket;
  struct ListenerIndex;
  bool conditions_hold(const Route& r, const RequestView& request) const;
  std::uint32_t best_in(const HostBucket& b, const RequestView& request, std::uint32_t best) const;

  std::vector<std::shared_ptr<const Route>> routes_;  // sorted by rank: index = rank
  std::vector<std::unique_ptr<ListenerIndex>> listeners_;
  LiveCount<RouteTable> live_;
};

// Prepares a response: status line, fields, Content-Length.
PreparedResponse prepare_response(int status,
                                  const std::vector<std::pair<std::string, std::string>>& fields,
                                  std::string body);

// Expands a template with the captures. Group numbers beyond the captures
// expand to nothing (load-time checks prevent it).
void expand(const Template& t, const Captures& captures, std::string& out);

// The request target a `rewrite` produces from the normalised path and the
// query, its path in normal form (path_normalizer.h, with the listener's
// `options`). False when the result is not a valid origin-form target (RFC
// 9112 §3.2.1), holds a "." or ".." segment, or is refused by the
// normaliser: the request is refused with 400.
bool rewrite_target(const Rewrite& rw, std::string_view path, std::string_view query,
                    const Captures& captures, PathOptions options, std::string& out);

// The Location of a redirect for this request; `secure`: it came over TLS
// (its scheme, when the redirect names none).
std::string redirect_location(const Redirect& rd, std::string_view request_host,
                              std::string_view path, std::string_view query,
                              const Captures& captures, bool secure = false);

}  // namespace sluice::route
