// The route table: which route answers a request, by listener, host, path and
// method. This first version matches in priority order with a linear scan;
// the compiled table (host hash map, path radix tree, one RE2::Set per host)
// replaces the scan behind the same interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
struct PreparedResponse {
  int status = 200;
  std::string head;
  std::string body;
};

struct Redirect {
  int status = 302;
  std::string scheme;  // empty: keep the request's (http)
  std::string host;    // empty: keep the request's Host
  std::string port;    // empty: none / keep
  std::string path;    // empty: keep the request's path
  bool keep_query = true;
};

struct Route {
  std::string name;
  std::vector<bool> on_listener;  // indexed by listener; all true when not scoped
  int priority = 0;
  std::string host;  // exact host, "*.suffix" wildcard, or empty (any)
  enum class PathKind : std::uint8_t { any, prefix, exact } path_kind = PathKind::any;
  std::string path;
  std::vector<std::string> methods;  // empty: any method
  ActionKind action = ActionKind::respond;
  PreparedResponse respond;
  std::string backend;
  std::size_t backend_index = 0;  // position of `backend` among the configured backends
  Redirect redirect;
};

class RouteTable {
 public:
  // Builds the table from a validated configuration; routes with the same
  // priority keep file order, more specific paths first.
  static std::shared_ptr<const RouteTable> build(const config::Config& config);

  // The first route for this listener whose host, path and method match, or
  // null. `host` is the request's Host without port, lower-cased by the caller.
  const Route* match(std::size_t listener, std::string_view host, std::string_view path,
                     std::string_view method) const;
  std::size_t size() const { return routes_.size(); }

 private:
  std::vector<Route> routes_;
};

// Prepares a response: status line, fields, Content-Length.
PreparedResponse prepare_response(int status,
                                  const std::vector<std::pair<std::string, std::string>>& fields,
                                  std::string body);

}  // namespace sluice::route
