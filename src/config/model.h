// The configuration model: plain typed structs, one per YAML block, filled
// and validated by the loader. No runtime objects live here; the router,
// balancer and proxy compile their own parts from it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

using Duration = std::chrono::milliseconds;

// Where a block starts in the file (1-based), for messages at run time.
struct SourceLocation {
  int line = 0;
  int column = 0;
};

enum class Protocol { http, tcp };

struct ListenerTimeouts {
  Duration header{10'000};  // first byte of a request to the end of its head
  Duration idle{60'000};    // a keep-alive connection waiting for its next request
};

struct TlsCertificate {
  std::string cert;  // PEM file path
  std::string key;   // PEM file path
};

struct Listener {
  std::string name;    // unique among listeners
  std::string listen;  // "host:port" or "[v6]:port"; port 0 = kernel picks
  Protocol protocol = Protocol::http;
  std::optional<std::string> backend;  // tcp listeners: the backend to forward to
  ListenerTimeouts timeouts;
  std::uint64_t max_header_size = 16 * 1024;   // bytes of request head; above: 431
  std::uint64_t max_request_line = 8 * 1024;   // bytes of request line; above: 414
  std::uint64_t max_header_count = 100;        // fields per request; above: 431
  std::optional<std::uint64_t> max_body_size;  // bytes of request body; above: 413
  bool keep_alive_header = false;              // add Connection: keep-alive + Keep-Alive: timeout=N
  bool proxy_protocol = false;                 // expect a PROXY protocol v1/v2 header first
  std::vector<TlsCertificate> tls_certificates;  // empty: plain TCP
  SourceLocation where;                          // the listener's block
  SourceLocation name_where;                     // its 'name' value
  SourceLocation listen_where;                   // its 'listen' value
  SourceLocation backend_where;                  // its 'backend' value
};

struct HeaderMatch {
  enum class Kind { exact, regex, present };
  std::string name;
  Kind kind = Kind::exact;
  std::string value;  // exact value or regex; empty for present
};

struct QueryMatch {
  std::string name;
  bool present_only = false;
  std::string value;
};

struct RouteMatch {
  std::optional<std::string> host;        // exact, or "*.suffix"
  std::optional<std::string> path;        // prefix, starts with '/'
  std::optional<std::string> path_exact;  // starts with '/'
  std::optional<std::string> path_regex;  // RE2 syntax, compiled by the router
  std::vector<std::string> methods;       // empty: any
  std::vector<HeaderMatch> headers;
  std::vector<QueryMatch> query;
};

struct Rewrite {
  std::optional<std::string> path;  // may use $N / ${name} from path_regex
  std::optional<std::string> strip_prefix;
  std::optional<std::string> add_prefix;
  std::optional<std::string> host;
};

struct Respond {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // in file order
  std::string body;
};

struct Redirect {
  int status = 302;  // 301, 302, 303, 307 or 308
  std::optional<std::string> scheme;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> path;
  bool keep_query = true;
};

struct Route {
  std::string name;                    // given, or "route-N" (1-based)
  std::vector<std::string> listeners;  // empty: every http listener
  int priority = 0;                    // higher first
  RouteMatch match;
  std::optional<Rewrite> rewrite;
  // Exactly one action:
  std::optional<std::string> backend;
  std::optional<Respond> respond;
  std::optional<Redirect> redirect;
  SourceLocation where;            // the route's block
  SourceLocation name_where;       // its 'name' value
  SourceLocation backend_where;    // its 'backend' value
  SourceLocation listeners_where;  // its 'listeners' list
  SourceLocation match_where;      // its 'match' block
};

enum class SendProxy { none, v1, v2 };

struct Server {
  std::string address;  // "host:port"; host names are resolved
  SourceLocation address_where;
  int weight = 1;                      // 1..256
  std::optional<int> max_connections;  // above: requests queue
  SendProxy send_proxy = SendProxy::none;
  bool backup = false;  // used only when no primary server is up
};

struct HealthCheck {
  std::string type = "http";  // http | tcp
  std::string path;           // http: the request path
  int expect_status = 200;
  Duration interval{2'000};
  Duration timeout{1'000};
  int rise = 2;  // successes to mark a server up
  int fall = 3;  // failures to mark it down
};

struct Backend {
  std::string name;
  std::string balance = "round_robin";  // round_robin | least_conn | random | p2c | hash
  std::string hash_key = "source_ip";   // source_ip | header | cookie | path (balance: hash)
  std::string hash_name;                // header or cookie name for hash_key
  std::optional<std::string> sticky_cookie;
  std::vector<Server> servers;
  Duration queue_timeout{5'000};
  std::optional<std::uint64_t> queue_max_size;
  int pool_max_idle_per_server = 64;
  Duration pool_idle_timeout{60'000};
  std::string pool_reuse = "safe";  // never | safe | always
  bool tcp_keepalive = false;       // SO_KEEPALIVE: unrelated to HTTP keep-alive
  Duration connect_timeout{3'000};
  Duration response_timeout{30'000};  // to the first byte of the response
  Duration idle_timeout{60'000};      // between body bytes
  int retry_attempts = 2;
  std::optional<Duration> retry_per_try_timeout;
  std::uint64_t retry_max_body = 64 * 1024;  // bodies up to this are kept for a retry
  int retry_budget_percent = 20;
  bool retry_idempotency_key = false;
  std::optional<HealthCheck> health_check;
  SourceLocation where;
};

struct Admin {
  std::string listen;
  SourceLocation listen_where;
};

struct Forwarded {
  bool x_forwarded_for = true;
  bool x_forwarded_proto = true;
  bool x_forwarded_host = true;
  std::vector<std::string> except;  // CIDRs whose clients are not appended
  SourceLocation except_where;
};

struct Shutdown {
  Duration grace{10'000};
};

struct Log {
  std::string level = "info";  // trace | debug | info | warn | error
  bool access = false;
};

struct Config {
  std::string file;  // where it was loaded from
  int workers = 0;   // 0 = auto: one per core
  std::optional<Admin> admin;
  std::vector<Listener> listeners;
  std::vector<Route> routes;
  std::vector<Backend> backends;  // file order
  Forwarded forwarded;
  Shutdown shutdown;
  Log log;
  bool watch = false;

  const Backend* find_backend(const std::string& name) const;
};

}  // namespace sluice::config
