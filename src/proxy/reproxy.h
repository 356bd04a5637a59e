// Reproxy (docs/middlewares/reproxy.md): a backend answers with a field
// that tells sluice what to serve in its place, and sluice serves it.
//
//   X-Reproxy-URL: URL1 URL2 ...   fetched in order (perlbal); the first
//                                  that works is streamed to the client
//   X-Accel-Redirect: /path        re-routed to a route of this listener,
//                                  internal ones included (nginx)
//   X-Reproxy-File / X-Sendfile    a file under the route's files.root
//
// Opt-in per route ('reproxy' block). The fields are removed from every
// client's request and from every response (reproxy or not), so a client
// can neither trigger nor see them.
//
// Fetches go through the ordinary upstream machinery: each allowed origin
// becomes a one-server Backend when the configuration loads, so its
// connections are pooled by destination like any backend's (a backend
// naming the same address shares them).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "proxy/backend.h"

namespace sluice::config {
struct Config;
struct Route;
}  // namespace sluice::config

namespace sluice::proxy {

class DestinationTable;
struct Snapshot;

// X-Reproxy-*, X-Accel-* and X-Sendfile: fields only a backend may send,
// and only to us. Asked of every field of every request and response:
// most names are answered by their first byte, inline.
bool names_reproxy_field(std::string_view name);
inline bool is_reproxy_field(std::string_view name) {
  return !name.empty() && (name[0] | 0x20) == 'x' && names_reproxy_field(name);
}

// One allowed origin and path prefix, with the Backend its fetches use.
struct ReproxyTarget {
  std::string host;  // lower case, IPv6 without brackets
  std::uint16_t port = 80;
  std::string path_prefix;
  std::string text;  // as configured
  std::shared_ptr<const Backend> backend;
};

// A route's reproxy settings as the data path uses them. Shared by the
// snapshot and the exchanges that use it.
struct ReproxyPlan {
  ReproxyPlan() = default;
  ~ReproxyPlan();
  ReproxyPlan(const ReproxyPlan&) = delete;
  ReproxyPlan& operator=(const ReproxyPlan&) = delete;

  std::string route;  // the route's name: an exchange checks it is its own
  bool urls = false;
  bool accel_redirect = false;
  bool check_size = true;
  std::string files_root;  // empty: files are not served
  int files_root_fd = -1;  // O_PATH descriptor of files_root, for openat2
  std::vector<ReproxyTarget> allow;
};

// The plans of `config`'s routes, by position (null: no reproxy block).
// Looks up the allowed origins now (blocking: start-up and reloads only).
std::vector<std::shared_ptr<const ReproxyPlan>> build_reproxy_plans(const config::Config& config,
                                                                    DestinationTable& destinations,
                                                                    unsigned workers);

// The plan in force for a route of `now` (matched by position and name:
// the route may come from an earlier snapshot). Null: none.
const std::shared_ptr<const ReproxyPlan>* reproxy_plan_for(const Snapshot& now,
                                                           std::size_t route_index,
                                                           std::string_view route_name);

// What a backend's response asks for, by the plan's leave. X-Accel-Redirect
// first, then X-Reproxy-URL, then a file.
struct ReproxyAsk {
  enum class Kind : std::uint8_t { none, accel_redirect, urls, file } kind = Kind::none;
  std::string value;                           // the field's value, trimmed
  std::optional<std::uint64_t> expected_size;  // X-Reproxy-Expected-Size
};
ReproxyAsk reproxy_asked(const ReproxyPlan& plan, std::span<const http::HeaderField> fields);

// An absolute http URL split up; false when it is not one (RFC 9110 §4.2.1).
struct ReproxyUrl {
  std::string host;  // lower case, IPv6 without brackets
  std::uint16_t port = 80;
  std::string authority;  // as the Host field sends it
  std::string path;       // normalised (no dot segments)
  std::string target;     // path and query, as sent
};
bool parse_reproxy_url(std::string_view text, ReproxyUrl& out);

// The allowed target `url` falls under, or null (refused: the SSRF guard).
const ReproxyTarget* allowed_target(const ReproxyPlan& plan, const ReproxyUrl& url);

// A single byte range of a representation of `size` bytes (RFC 9110 §14).
struct ByteRange {
  enum class Kind : std::uint8_t {
    whole,          // no usable Range: the whole representation, 200
    part,           // [first, last], 206
    unsatisfiable,  // 416 with Content-Range: bytes */size
  } kind = Kind::whole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
// Several ranges, or a syntax this does not read, give `whole`: a server
// may ignore Range (RFC 9110 §14.2).
ByteRange parse_byte_range(std::string_view range, std::uint64_t size);

}  // namespace sluice::proxy
