// The configuration model: plain typed structs, one per YAML block, filled
// and validated by the loader (see docs/config.md for every key). No runtime
// objects live here; the router, balancer and proxy compile their own parts
// from it. A loaded Config is shared as std::shared_ptr<const Config>: an
// immutable snapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/access_log_config.h"
#include "config/metrics_config.h"
#include "config/middleware_config.h"
#include "config/provider_config.h"
#include "config/reproxy_config.h"
#include "config/request_id_config.h"
#include "config/tracing_config.h"

namespace sluice::config {

using Duration = std::chrono::milliseconds;

// Where something was written (1-based), so that checks made after loading,
// and messages at run time, can point at the file. 0/0 when not written.
struct SourceLocation {
  int line = 0;
  int column = 0;
};

// ---------------------------------------------------------------- listeners

enum class Protocol { http, tcp };
// What an http listener does with %2F and %5C in a request path.
enum class EscapedSlashes {
  reject,  // 400: a backend that decodes before routing would see a separator
  keep,    // forwarded encoded, never a separator for routing
};

struct ListenerTimeouts {
  Duration header{10'000};  // ms, first byte of a request to the end of its head
  Duration idle{60'000};    // ms, a keep-alive connection waiting for its next request
  Duration request{0};      // ms, first byte of a request to the end of its body; 0 = none
};

// A request body must bring at least `bytes` in every `per` spent waiting
// for it (time the backend makes us wait does not count); else 408.
struct MinBodyRate {
  std::uint64_t bytes = 8 * 1024;  // 0 = no minimum
  Duration per{30'000};
};

// One certificate entry of a listener: a chain and its key in two files, or
// a directory whose *.pem files each hold a chain and its key together.
// Paths are resolved against the configuration file's directory at load.
struct TlsCertificate {
  std::string cert;       // PEM certificate chain (leaf first); empty with `directory`
  std::string key;        // PEM private key; empty with `directory`
  std::string directory;  // every *.pem in it: chain + key in one file; empty with cert/key

  SourceLocation where;  // the entry's block (errors about its files point here)
};

enum class TlsVersion { tls1_2, tls1_3 };
enum class ClientAuthMode { required, optional };

// Client certificates on a TLS listener.
struct ClientAuth {
  std::string ca;  // PEM file of the CAs client chains must lead to (resolved path)
  ClientAuthMode mode = ClientAuthMode::required;
  // Request field carrying the verified subject (RFC 2253) to backends;
  // always removed from what clients send.
  std::string header = "X-Client-Cert-Subject";

  SourceLocation ca_where;
};

// Strict-Transport-Security added to responses sent over TLS (RFC 6797).
struct Hsts {
  Duration max_age{365LL * 24 * 3600 * 1000};  // ms; sent in whole seconds
  bool include_subdomains = false;
  bool preload = false;
};

struct Tls {
  std::vector<TlsCertificate> certificates;  // at least one; the first is the default
  TlsVersion min_version = TlsVersion::tls1_2;
  std::string ciphers;       // TLS 1.2 cipher list, OpenSSL syntax; empty: Mozilla intermediate
  std::string ciphersuites;  // TLS 1.3 suites, OpenSSL syntax; empty: OpenSSL's default
  std::string curves;        // groups, ':'-separated ("X25519:P-256"); empty: the default list
  // Protocols offered by ALPN, preferred first; empty: the listener's
  // default (http: "h2", "http/1.1", or "http/1.1" alone when
  // http2.enabled is false; tcp: none).
  std::vector<std::string> alpn;
  std::optional<ClientAuth> client_auth;
  bool session_tickets = true;                // stateless resumption (RFC 8446 §4.6.1)
  std::uint64_t session_cache_size = 20'000;  // sessions kept for id-based resumption; 0: none
  Duration session_timeout{7'200'000};        // ms a session may be resumed
  std::optional<Hsts> hsts;                   // http listeners only
  bool ktls = false;                          // let the kernel encrypt records (SSL_OP_ENABLE_KTLS)

  SourceLocation where;  // the 'tls' block
};

// A token bucket: `burst` at once, refilled at `per_second`.
struct RateBudget {
  std::uint32_t burst = 0;
  std::uint32_t per_second = 0;
};

// HTTP/2 on an http listener (RFC 9113).
struct Http2 {
  bool enabled = true;
  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t initial_window_size = 65'536;
  std::uint32_t connection_window_size = 1'048'576;
  std::uint32_t max_frame_size = 16'384;
  std::uint64_t max_header_list_size = 0;  // 0: the listener's max_header_size
  std::uint32_t max_continuations = 8;
  RateBudget reset_budget{100, 10};
  RateBudget control_frame_budget{1000, 100};
  Duration stream_idle_timeout{300'000};
  Duration zero_window_timeout{30'000};
  SourceLocation where;  // the 'http2' block; empty when absent
};

// tcp listeners: a backend chosen by the server name the client asked for
// (the TLS ClientHello's SNI), read without terminating TLS unless the
// listener has `tls`.
struct SniRoute {
  std::string host;  // exact name, or "*.suffix" (one label), lower case
  std::string backend;

  SourceLocation host_where;
  SourceLocation backend_where;
};

struct Listener {
  std::string name;                    // unique among listeners
  std::string listen;                  // "host:port", "[v6]:port", "*:port"; port 0 = kernel picks
  Protocol protocol = Protocol::http;  // http: routes apply; tcp: bytes go to `backend`
  std::optional<std::string> backend;  // tcp only: the backend to forward to (with sni_routes:
                                       // when no route matches; absent: such clients are closed)
  std::vector<SniRoute> sni_routes;    // tcp only: backends by TLS server name, file order
  ListenerTimeouts timeouts;
  std::uint64_t max_header_size = 16 * 1024;   // bytes, whole request head; above: 431
  std::uint64_t max_request_line = 8 * 1024;   // bytes, request line; above: 414
  std::uint64_t max_header_count = 100;        // header fields per request; above: 431
  std::optional<std::uint64_t> max_body_size;  // bytes of request body; above: 413; none = no limit
  MinBodyRate min_body_rate;                   // slower request bodies: 408
  // Open client connections across all workers; at the cap new ones wait
  // in the kernel's accept queue. None = no cap (descriptors are the limit).
  std::optional<std::uint64_t> max_connections;
  // TCP_DEFER_ACCEPT: a connection reaches a worker with its first bytes, or
  // after this long for a client that sends nothing; zero: at once. Absent:
  // 1s on http listeners (the client speaks first), zero on tcp ones (a
  // server-first protocol's greeting must not wait).
  std::optional<Duration> defer_accept;
  bool keep_alive_header = false;  // add "Connection: keep-alive" + "Keep-Alive: timeout=N" to 1.1
  bool proxy_protocol = false;     // expect a PROXY protocol v1/v2 header before any byte
  std::optional<Tls> tls;          // absent: plain text
  // Forward request header fields whose names hold '_' (dropped by default:
  // CGI/WSGI backends read X_Forwarded_For as X-Forwarded-For).
  bool keep_underscore_fields = false;
  // http only: h2c by prior knowledge on a plain listener, "h2" by ALPN
  // with tls; enabled by default (http2.enabled: false = HTTP/1 only).
  Http2 http2;
  // http only: the middlewares of routes on this listener that name none
  // of their own, in order.
  std::vector<std::string> middlewares;

  EscapedSlashes escaped_slashes = EscapedSlashes::reject;  // %2F, %5C in a path
  // http only: this listener's access log (off, or keys over the top
  // level's); absent: the top level's. See access_log_of().
  std::optional<ListenerAccessLog> access_log;

  SourceLocation where;                           // the listener's block
  std::vector<SourceLocation> middlewares_where;  // each 'middlewares' item
  SourceLocation name_where;                      // its 'name' value
  SourceLocation listen_where;                    // its 'listen' value
  SourceLocation backend_where;                   // its 'backend' value
};

// ------------------------------------------------------------------- routes

struct HeaderMatch {
  enum class Kind { exact, regex, present };
  std::string name;  // field name as written (compare case-insensitively)
  Kind kind = Kind::exact;
  std::string value;  // exact value or RE2 regex; empty for `present`
};

struct QueryMatch {
  enum class Kind { exact, present };
  std::string name;  // parameter name
  Kind kind = Kind::exact;
  std::string value;  // exact value; empty for `present`
};

struct RouteMatch {
  std::optional<std::string> host;        // exact (case-insensitive), or "*.suffix"
  std::optional<std::string> path;        // prefix; starts with '/'
  std::optional<std::string> path_exact;  // whole path; starts with '/'
  std::optional<std::string> path_regex;  // RE2 syntax over the whole path; compiled by the router
  std::vector<std::string> methods;       // upper-case tokens; empty: any method
  std::vector<HeaderMatch> headers;       // all must match; file order
  std::vector<QueryMatch> query;          // all must match; file order
};

struct Rewrite {
  std::optional<std::string> path;          // replaces the path; "$N"/"${N}" = capture N
  std::optional<std::string> strip_prefix;  // removed from the start of the path if present
  std::optional<std::string> add_prefix;    // put in front of the path (after strip_prefix)
  std::optional<std::string> host;          // replaces the Host header sent to the backend
};

struct Respond {
  int status = 200;                                          // 100..599
  std::vector<std::pair<std::string, std::string>> headers;  // in file order
  std::string body;                                          // sent as is
};

struct Redirect {
  int status = 302;                   // 301, 302, 303, 307 or 308
  std::optional<std::string> scheme;  // "http" | "https"; absent: the request's
  std::optional<std::string> host;    // absent: the request's
  std::optional<int> port;            // 1..65535; absent: the scheme's default
  std::optional<std::string> path;    // absent: the request's; "$N" as in rewrite.path
  bool keep_query = true;             // append the request's query string
};

struct Route {
  std::string name;                    // given, or "route-N" (N = 1-based index)
  std::vector<std::string> listeners;  // http listener names; empty: every http listener
  int priority = 0;                    // higher is tried first
  RouteMatch match;
  std::optional<Rewrite> rewrite;  // only with `backend`
  // Exactly one action:
  std::optional<std::string> backend;  // forward to this backend
  std::optional<Respond> respond;      // answer directly
  std::optional<Redirect> redirect;    // answer with a redirect
  bool allow_connect = false;          // with `backend`: CONNECT requests open a tunnel
  // The middlewares requests on this route pass, in order; absent: the
  // listener's (an empty list: none).
  std::optional<std::vector<std::string>> middlewares;
  // With `backend`: what its responses may ask sluice to serve instead
  // (reproxy_config.h). `internal`: only an X-Accel-Redirect reaches it.
  std::optional<Reproxy> reproxy;
  bool internal = false;

  SourceLocation where;                           // the route's block
  SourceLocation name_where;                      // its 'name' value, else the block
  SourceLocation backend_where;                   // its 'backend' value
  std::vector<SourceLocation> listeners_where;    // each 'listeners' item
  std::vector<SourceLocation> middlewares_where;  // each 'middlewares' item
};

// ----------------------------------------------------------------- backends

enum class Balance { round_robin, least_conn, random, p2c, hash };
enum class HashKey { source_ip, header, cookie, path };
enum class SendProxy { none, v1, v2 };
enum class PoolReuse { never, safe, always };
enum class HealthCheckType { http, tcp };
// What the backend's servers speak: HTTP/1.1, HTTP/2 over TLS (ALPN h2), or
// cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3).
enum class BackendProtocol { http1, h2, h2c };

struct Server {
  std::string address;                     // "host:port" or "[v6]:port"; host names are resolved
  int weight = 1;                          // 1..256, relative share of requests
  std::optional<int> max_connections;      // concurrent requests; above: requests queue
  SendProxy send_proxy = SendProxy::none;  // PROXY protocol header sent on connect
  bool backup = false;                     // used only when no primary server is up

  SourceLocation address_where;
};

struct Hash {
  HashKey key = HashKey::source_ip;
  std::string name;  // header or cookie name for key header/cookie
};

struct Sticky {
  std::string cookie;  // cookie naming the chosen server
};

struct Queue {
  Duration timeout{5'000};        // ms a request may wait for a free connection slot; 0: no wait
  std::uint64_t max_size = 1024;  // requests waiting per server; above: 503; 0: none wait
};

struct Pool {
  int max_idle_per_server = 64;   // idle connections kept per server (per worker)
  Duration idle_timeout{60'000};  // ms an idle pooled connection is kept
  PoolReuse reuse = PoolReuse::safe;
  // protocol h2/h2c: connections per server (per worker) before streams
  // wait in the least busy one for a slot the server allows.
  int max_h2_connections = 16;
};

struct BackendTimeouts {
  Duration connect{3'000};    // ms to establish a connection
  Duration response{30'000};  // ms from the request sent to the first response byte
  Duration idle{60'000};      // ms without a byte either way during an exchange
};

struct Retries {
  int attempts = 2;                         // 0..10 extra tries after the first
  std::optional<Duration> per_try_timeout;  // ms per try; none = timeouts.response
  std::uint64_t max_body = 64 * 1024;       // bytes of request body kept for a retry
  int budget = 20;                          // percent: retries at most this share of requests
  bool idempotency_key = false;             // treat requests with Idempotency-Key as retryable
};

// A run of status codes, both ends included ("200-399"; 204 is 204-204).
struct StatusRange {
  int first = 200;
  int last = 399;
  friend bool operator==(const StatusRange&, const StatusRange&) = default;
};

struct HealthCheck {
  HealthCheckType type = HealthCheckType::http;
  std::string path;                            // http: request path (starts with '/')
  std::optional<std::string> host;             // http: Host sent; absent: the server's address
  std::vector<StatusRange> expect_status{{}};  // http: statuses that count as healthy
  Duration interval{2'000};                    // ms between probes
  Duration timeout{1'000};                     // ms a probe may take
  int rise = 2;                                // consecutive successes to mark a server up
  int fall = 3;                                // consecutive failures to mark it down
  Duration slow_start{0};  // ms over which a server back up ramps to its full weight
};

// TLS to a backend's servers.
struct BackendTls {
  bool verify = true;  // check the server's chain and name
  std::string ca;      // PEM file of trusted CAs (resolved path); empty: the system's
  // Server name sent and verified; absent: the server's host name (an IP
  // literal is verified as an address and sends no SNI).
  std::optional<std::string> sni;
  std::vector<std::string> alpn;  // protocols offered; empty: none
  std::string certificate;        // client certificate chain (resolved path); empty: none
  std::string key;                // its private key; required with certificate

  SourceLocation where;  // the 'tls' block
};

struct Backend {
  std::string name;  // the key under `backends`
  Balance balance = Balance::round_robin;
  std::optional<Hash> hash;  // with balance: hash (default key: source_ip)
  std::optional<Sticky> sticky;
  std::vector<Server> servers;  // at least one
  Queue queue;
  Pool pool;
  bool tcp_keepalive = false;  // SO_KEEPALIVE on backend sockets; unrelated to HTTP keep-alive
  BackendTimeouts timeouts;
  Retries retries;
  std::optional<HealthCheck> health_check;  // absent: servers are assumed up
  Duration resolve_interval{30'000};        // ms between lookups of server host names; 0: never
  std::optional<BackendTls> tls;            // absent: plain TCP
  BackendProtocol protocol = BackendProtocol::http1;  // h2 needs tls (alpn h2); h2c refuses it

  SourceLocation where;  // its name under `backends`
};

// -------------------------------------------------------------- middlewares

enum class MiddlewareKind { headers, forward_auth, access, rate_limit, compress };

// A named middleware definition: a map with one key, its kind.
struct Middleware {
  std::string name;  // the key under `middlewares`
  MiddlewareKind kind = MiddlewareKind::headers;
  // The settings of `kind` (the others stay empty).
  Headers headers;
  ForwardAuth forward_auth;
  Access access;
  RateLimit rate_limit;
  Compress compress;
  // The definition as written, in a canonical form (and whatever a
  // loader adds: a file's content it read): equal text across a reload
  // means the definition is unchanged and its state is kept.
  std::string fingerprint;

  SourceLocation where;  // its name under `middlewares`
};

// -------------------------------------------------------------- top level

struct Admin {
  std::string listen;  // "host:port"; port 0 = kernel picks
  // Where the bearer token was read from, as written (relative paths are
  // relative to the configuration file's directory); none = no token.
  std::optional<std::string> token_file;
  std::string token;               // read from token_file at load; empty = no token
  std::vector<std::string> names;  // more Host values accepted: "name" or "name:port", lower case
  std::uint64_t max_body = 4 * 1024 * 1024;  // bytes of request body; above: 413
  int max_connections = 64;                  // admin connections open at once; above: 503
  Duration request_timeout{10'000};  // ms for a whole request to arrive; idle connections too

  SourceLocation listen_where;
  SourceLocation token_file_where;
};

struct Forwarded {
  bool x_forwarded_for = true;      // append the client address
  bool x_forwarded_proto = true;    // set the scheme the client used
  bool x_forwarded_host = true;     // set the Host the client asked for
  std::vector<std::string> except;  // CIDRs: clients here get no X-Forwarded-* added
};

struct Shutdown {
  Duration grace{10'000};  // ms in-flight requests may finish after SIGTERM
};

enum class LogLevel { trace, debug, info, warn, error };

struct Log {
  LogLevel level = LogLevel::info;  // least severe message logged
  bool access = false;              // access_log: {} when there is no access_log block
};

struct Config {
  std::string file;    // where it was loaded from
  std::string source;  // the text it was loaded from, as read (GET /config shows it)
  int workers = 0;     // worker threads; 0 = auto: one per core
  // The longest a worker polls for events before it sleeps, while its idle
  // spells are short (core/idle_poll.h); 0: it sleeps at once.
  std::chrono::microseconds busy_poll{25};
  std::optional<Admin> admin;
  std::vector<Listener> listeners;
  std::vector<Route> routes;
  std::vector<Backend> backends;        // file order
  std::vector<Middleware> middlewares;  // file order
  Forwarded forwarded;
  Shutdown shutdown;
  Log log;
  std::optional<AccessLogSettings> access_log;  // absent: none, unless a listener has one
  RequestId request_id;
  std::optional<Tracing> tracing;  // absent: trace context passes through untouched
  Metrics metrics;                 // /metrics on the admin listener
  bool watch = false;              // reload when the file changes
  Provider provider;               // sources besides the file (a restart changes them)

  const Backend* find_backend(std::string_view name) const;
  const Listener* find_listener(std::string_view name) const;
  const Middleware* find_middleware(std::string_view name) const;
};

// The access log settings requests on `l` get (the top level's with the
// listener's keys over them); nullopt: no access log there.
std::optional<AccessLogSettings> access_log_of(const Config& c, const Listener& l);

}  // namespace sluice::config
