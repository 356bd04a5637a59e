#include "config/loader.h"
#include "config_test_support.h"

#include <gtest/gtest.h>

#include <string>

#include "config/model.h"
#include "support/temp_dir.h"

namespace sluice::config {
namespace {

using testing::dump;

using std::chrono::milliseconds;

// The schema sketch users meet first (config-sketch.yaml), kept verbatim.
constexpr const char* kSketch = R"(# A sketch of sluice's configuration file.
workers: auto                      # worker threads; auto = one per core

admin:                             # metrics, stats, runtime API; off if absent
  listen: 127.0.0.1:9901

listeners:
  - name: web
    listen: 0.0.0.0:8080           # host:port, [v6]:port
    protocol: http                 # http | tcp
    # tls: {certificates: [{cert: site.pem, key: site.key}]}   # later issue
    timeouts: {header: 10s, idle: 60s}
    max_header_size: 16KiB
  - name: db
    listen: 127.0.0.1:15432
    protocol: tcp
    backend: postgres              # tcp listeners forward to one backend

routes:                            # http listeners only
  - name: users
    listeners: [web]               # default: every http listener
    match:
      host: api.example.com        # exact, or *.example.com
      path_regex: ^/app/users/([0-9]{4})$    # or path: /prefix/  or path_exact: /x
      methods: [GET, HEAD]
      headers: {X-Env: canary}
    rewrite:
      path: /users/$1              # $N = capture N of path_regex
    backend: app
  - name: hello
    match: {path: /}
    respond:                       # built-in responder: no backend needed
      status: 200
      body: "hello from sluice\n"

backends:
  app:
    balance: round_robin           # round_robin | least_conn | random | p2c | hash
    servers:
      - address: 10.0.0.1:8080     # host names are resolved too
        weight: 1
        max_connections: 500       # above this, requests queue
    queue: {timeout: 5s}
    pool:
      max_idle_per_server: 64
      idle_timeout: 60s
      reuse: safe                  # never | safe | always
    tcp_keepalive: false           # SO_KEEPALIVE, not HTTP keep-alive
    timeouts: {connect: 3s, response: 30s}
    retries:
      attempts: 2                  # idempotent requests only, see design.md
    health_check: {path: /healthz, interval: 2s, timeout: 1s, rise: 2, fall: 3}
  postgres:
    servers: [{address: 127.0.0.1:5432}]

forwarded:
  x_forwarded_for: true            # append the client address
  except: [127.0.0.0/8]            # ...unless it comes from these networks
)";

// All diagnostics, one per line, for failure messages.

std::size_t count_errors(const LoadResult& r) {
  std::size_t n = 0;
  for (const auto& d : r.diagnostics)
    n += d.severity == Severity::error ? 1 : 0;
  return n;
}

// A valid file with one listener, for tests that add one thing to it.
std::string with_listener(const std::string& rest) {
  return "listeners:\n  - {name: web, listen: '127.0.0.1:0'}\n" + rest;
}

TEST(ConfigLoader, SketchLoads) {
  const auto r = load_string(kSketch, "sketch.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.file, "sketch.yaml");
  EXPECT_EQ(c.workers, 0);
  ASSERT_TRUE(c.admin);
  EXPECT_EQ(c.admin->listen, "127.0.0.1:9901");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "web");
  EXPECT_EQ(c.listeners[0].listen, "0.0.0.0:8080");
  EXPECT_EQ(c.listeners[0].protocol, Protocol::http);
  EXPECT_EQ(c.listeners[0].max_header_size, 16u * 1024);
  EXPECT_EQ(c.listeners[1].protocol, Protocol::tcp);
  EXPECT_EQ(c.listeners[1].backend, "postgres");

  ASSERT_EQ(c.routes.size(), 2u);
  const Route& users = c.routes[0];
  EXPECT_EQ(users.name, "users");
  EXPECT_EQ(users.listeners, std::vector<std::string>{"web"});
  EXPECT_EQ(users.match.host, "api.example.com");
  EXPECT_EQ(users.match.path_regex, "^/app/users/([0-9]{4})$");
  EXPECT_EQ(users.match.methods, (std::vector<std::string>{"GET", "HEAD"}));
  ASSERT_EQ(users.match.headers.size(), 1u);
  EXPECT_EQ(users.match.headers[0].name, "X-Env");
  EXPECT_EQ(users.match.headers[0].kind, HeaderMatch::Kind::exact);
  EXPECT_EQ(users.match.headers[0].value, "canary");
  ASSERT_TRUE(users.rewrite);
  EXPECT_EQ(users.rewrite->path, "/users/$1");
  EXPECT_EQ(users.backend, "app");
  const Route& hello = c.routes[1];
  EXPECT_EQ(hello.match.path, "/");
  ASSERT_TRUE(hello.respond);
  EXPECT_EQ(hello.respond->status, 200);
  EXPECT_EQ(hello.respond->body, "hello from sluice\n");
  EXPECT_FALSE(hello.backend);

  ASSERT_EQ(c.backends.size(), 2u);
  EXPECT_EQ(c.backends[0].name, "app");  // file order, not sorted
  EXPECT_EQ(c.backends[1].name, "postgres");
  const Backend& app = c.backends[0];
  ASSERT_EQ(app.servers.size(), 1u);
  EXPECT_EQ(app.servers[0].address, "10.0.0.1:8080");
  EXPECT_EQ(app.servers[0].max_connections, 500);
  ASSERT_TRUE(app.health_check);
  EXPECT_EQ(app.health_check->path, "/healthz");
  EXPECT_EQ(c.forwarded.except, std::vector<std::string>{"127.0.0.0/8"});
  EXPECT_EQ(summary(c), "2 listeners, 2 routes, 2 backends, 2 servers");
}

TEST(ConfigLoader, EveryDefault) {
  const auto r = load_string(R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - backend: app
  - match: {path: /r}
    redirect: {path: /s}
  - respond: {}
backends:
  app:
    servers: [127.0.0.1:1]
    health_check: {path: /}
)",
                             "defaults.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.busy_poll, std::chrono::microseconds(25));
  EXPECT_FALSE(c.admin);
  EXPECT_TRUE(c.forwarded.x_forwarded_for);
  EXPECT_TRUE(c.forwarded.x_forwarded_proto);
  EXPECT_TRUE(c.forwarded.x_forwarded_host);
  EXPECT_TRUE(c.forwarded.except.empty());
  EXPECT_EQ(c.shutdown.grace, milliseconds(10'000));
  EXPECT_EQ(c.log.level, LogLevel::info);
  EXPECT_FALSE(c.log.access);
  EXPECT_FALSE(c.watch);

  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.protocol, Protocol::http);
  EXPECT_FALSE(l.backend);
  EXPECT_EQ(l.timeouts.header, milliseconds(10'000));
  EXPECT_EQ(l.timeouts.idle, milliseconds(60'000));
  EXPECT_EQ(l.max_header_size, 16u * 1024);
  EXPECT_EQ(l.max_request_line, 8u * 1024);
  EXPECT_EQ(l.max_header_count, 100u);
  EXPECT_FALSE(l.max_body_size);
  EXPECT_FALSE(l.keep_alive_header);
  EXPECT_FALSE(l.proxy_protocol);
  EXPECT_FALSE(l.keep_underscore_fields);
  EXPECT_FALSE(l.tls);

  ASSERT_EQ(c.routes.size(), 3u);
  EXPECT_EQ(c.routes[0].name, "route-1");
  EXPECT_EQ(c.routes[1].name, "route-2");
  EXPECT_TRUE(c.routes[0].listeners.empty());
  EXPECT_EQ(c.routes[0].priority, 0);
  EXPECT_FALSE(c.routes[0].match.host);
  EXPECT_FALSE(c.routes[0].match.path);
  EXPECT_TRUE(c.routes[0].match.methods.empty());
  EXPECT_FALSE(c.routes[0].rewrite);
  const Redirect& rd = *c.routes[1].redirect;
  EXPECT_EQ(rd.status, 302);
  EXPECT_TRUE(rd.keep_query);
  EXPECT_FALSE(rd.scheme);
  EXPECT_FALSE(rd.port);
  const Respond& rs = *c.routes[2].respond;
  EXPECT_EQ(rs.status, 200);
  EXPECT_TRUE(rs.body.empty());
  EXPECT_TRUE(rs.headers.empty());

  const Backend& b = c.backends[0];
  EXPECT_EQ(b.balance, Balance::round_robin);
  EXPECT_FALSE(b.hash);
  EXPECT_FALSE(b.sticky);
  ASSERT_EQ(b.servers.size(), 1u);
  EXPECT_EQ(b.servers[0].address, "127.0.0.1:1");
  EXPECT_EQ(b.servers[0].weight, 1);
  EXPECT_FALSE(b.servers[0].max_connections);
  EXPECT_EQ(b.servers[0].send_proxy, SendProxy::none);
  EXPECT_FALSE(b.servers[0].backup);
  EXPECT_EQ(b.queue.timeout, milliseconds(5'000));
  EXPECT_EQ(b.queue.max_size, 1024u);
  EXPECT_EQ(b.pool.max_idle_per_server, 64);
  EXPECT_EQ(b.pool.idle_timeout, milliseconds(60'000));
  EXPECT_EQ(b.pool.reuse, PoolReuse::safe);
  EXPECT_FALSE(b.tcp_keepalive);
  EXPECT_EQ(b.timeouts.connect, milliseconds(3'000));
  EXPECT_EQ(b.timeouts.response, milliseconds(30'000));
  EXPECT_EQ(b.timeouts.idle, milliseconds(60'000));
  EXPECT_EQ(b.retries.attempts, 2);
  EXPECT_FALSE(b.retries.per_try_timeout);
  EXPECT_EQ(b.retries.max_body, 64u * 1024);
  EXPECT_EQ(b.retries.budget, 20);
  EXPECT_FALSE(b.retries.idempotency_key);
  ASSERT_TRUE(b.health_check);
  EXPECT_EQ(b.health_check->type, HealthCheckType::http);
  EXPECT_EQ(b.health_check->expect_status, (std::vector<StatusRange>{{200, 399}}));
  EXPECT_EQ(b.health_check->interval, milliseconds(2'000));
  EXPECT_EQ(b.health_check->timeout, milliseconds(1'000));
  EXPECT_EQ(b.health_check->rise, 2);
  EXPECT_EQ(b.health_check->fall, 3);
}

TEST(ConfigLoader, EveryKeyWritten) {
  const test::TempDir dir;  // certificate paths must name readable files
  for (const char* name : {"a.pem", "a.key", "b.pem", "b.key"})
    dir.write(name, "pem\n");
  const auto r = load_string(R"(workers: 4
admin: {listen: "[::1]:9901"}
listeners:
  - name: web
    listen: "*:8443"
    timeouts: {header: 2s, idle: 5m}
    max_header_size: 32KiB
    max_request_line: 4KiB
    max_header_count: 50
    max_body_size: 1MiB
    keep_alive_header: true
    proxy_protocol: true
    keep_underscore_fields: true
    tls: {certificates: [{cert: a.pem, key: a.key}, {cert: b.pem, key: b.key}]}
routes:
  - name: r
    listeners: [web]
    priority: -3
    match:
      host: "*.example.com"
      path_exact: /x
      methods: [GET, PURGE]
      headers: {X-A: "1", X-B: {regex: "^v[0-9]+$"}, X-C: {present: true}}
      query: {q: "1", debug: {present: true}}
    rewrite: {strip_prefix: /x, add_prefix: /y, host: internal}
    backend: b
  - name: moved
    match: {path_regex: "^/old/(.*)$"}
    redirect: {status: 308, scheme: https, host: new.example.com, port: 8443, path: "/new/$1", keep_query: false}
  - name: teapot
    match: {path: /tea}
    respond: {status: 418, headers: {Content-Type: text/plain}, body: "short and stout"}
backends:
  b:
    balance: hash
    hash: {key: header, name: X-User}
    sticky: {cookie: srv}
    servers:
      - {address: "[::1]:8080", weight: 256, max_connections: 10, send_proxy: v2, backup: true}
      - app.internal:8080
    queue: {timeout: 0s, max_size: 100}
    pool: {max_idle_per_server: 0, idle_timeout: 1h, reuse: always}
    tcp_keepalive: yes
    timeouts: {connect: 250ms, response: 1m, idle: 2m}
    retries: {attempts: 0, per_try_timeout: 2s, max_body: 0, budget: 100, idempotency_key: true}
    health_check: {type: tcp, interval: 5s, timeout: 5s, rise: 1, fall: 100}
forwarded:
  x_forwarded_for: false
  x_forwarded_proto: off
  x_forwarded_host: false
  except: [10.0.0.0/8, "::1/128", 192.0.2.7]
shutdown: {grace: 0s}
log: {level: debug, access: true}
watch: true
)",
                             "all.yaml", dir.path().string());
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.admin->listen, "[::1]:9901");
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.timeouts.idle, milliseconds(300'000));
  EXPECT_EQ(l.max_header_size, 32u * 1024);
  EXPECT_EQ(l.max_request_line, 4u * 1024);
  EXPECT_EQ(l.max_header_count, 50u);
  EXPECT_EQ(l.max_body_size, 1024u * 1024);
  EXPECT_TRUE(l.keep_alive_header);
  EXPECT_TRUE(l.proxy_protocol);
  EXPECT_TRUE(l.keep_underscore_fields);
  ASSERT_TRUE(l.tls);
  ASSERT_EQ(l.tls->certificates.size(), 2u);
  EXPECT_EQ(l.tls->certificates[1].key, (dir.path() / "b.key").string());
  const Route& rt = c.routes[0];
  EXPECT_EQ(rt.priority, -3);
  EXPECT_EQ(rt.match.host, "*.example.com");
  ASSERT_EQ(rt.match.headers.size(), 3u);
  EXPECT_EQ(rt.match.headers[1].kind, HeaderMatch::Kind::regex);
  EXPECT_EQ(rt.match.headers[1].value, "^v[0-9]+$");
  EXPECT_EQ(rt.match.headers[2].kind, HeaderMatch::Kind::present);
  ASSERT_EQ(rt.match.query.size(), 2u);
  EXPECT_EQ(rt.match.query[0].value, "1");
  EXPECT_EQ(rt.match.query[1].kind, QueryMatch::Kind::present);
  EXPECT_EQ(rt.rewrite->add_prefix, "/y");
  EXPECT_EQ(rt.rewrite->host, "internal");
  const Redirect& rd = *c.routes[1].redirect;
  EXPECT_EQ(rd.status, 308);
  EXPECT_EQ(rd.port, 8443);
  EXPECT_FALSE(rd.keep_query);
  const Respond& rs = *c.routes[2].respond;
  EXPECT_EQ(rs.status, 418);
  ASSERT_EQ(rs.headers.size(), 1u);
  EXPECT_EQ(rs.headers[0].second, "text/plain");
  const Backend& b = c.backends[0];
  EXPECT_EQ(b.balance, Balance::hash);
  EXPECT_EQ(b.hash->key, HashKey::header);
  EXPECT_EQ(b.hash->name, "X-User");
  EXPECT_EQ(b.sticky->cookie, "srv");
  ASSERT_EQ(b.servers.size(), 2u);
  EXPECT_EQ(b.servers[0].weight, 256);
  EXPECT_EQ(b.servers[0].send_proxy, SendProxy::v2);
  EXPECT_TRUE(b.servers[0].backup);
  EXPECT_EQ(b.servers[1].address, "app.internal:8080");
  EXPECT_EQ(b.queue.timeout, milliseconds(0));
  EXPECT_EQ(b.queue.max_size, 100u);
  EXPECT_EQ(b.pool.reuse, PoolReuse::always);
  EXPECT_TRUE(b.tcp_keepalive);
  EXPECT_EQ(b.timeouts.connect, milliseconds(250));
  EXPECT_EQ(b.retries.attempts, 0);
  EXPECT_EQ(b.retries.per_try_timeout, milliseconds(2'000));
  EXPECT_EQ(b.retries.budget, 100);
  EXPECT_EQ(b.health_check->type, HealthCheckType::tcp);
  EXPECT_EQ(b.health_check->fall, 100);
  EXPECT_FALSE(c.forwarded.x_forwarded_for);
  EXPECT_FALSE(c.forwarded.x_forwarded_proto);
  EXPECT_EQ(c.forwarded.except.size(), 3u);
  EXPECT_EQ(c.shutdown.grace, milliseconds(0));
  EXPECT_EQ(c.log.level, LogLevel::debug);
  EXPECT_TRUE(c.log.access);
  EXPECT_TRUE(c.watch);
  EXPECT_EQ(summary(c), "1 listener, 3 routes, 1 backend, 2 servers");
}

TEST(ConfigLoader, UnknownKeyNamesLineColumnAndSuggests) {
  const auto r = load_string(R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: users
    match: {path: /}
    bakend: app
backends:
  app: {servers: [127.0.0.1:1]}
)",
                             "sluice.yaml");
  EXPECT_FALSE(r.ok());
  // One typo, one error: not also "needs one of 'backend', ...".
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(
      r.diagnostics[0].to_string(),
      "sluice.yaml:7:5: error: route 'users': unknown key 'bakend' (did you mean 'backend'?)");
}

TEST(ConfigLoader, UnknownKeyWithoutCloseMatchListsAllowedKeys) {
  const auto r = load_string(with_listener("log: {colour: red}\n"), "f.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:3:7: error: log: unknown key 'colour' (expected one of: level, access)");
}

TEST(ConfigLoader, MissingBackendNamesRouteAndBackend) {
  const auto r = load_string(with_listener(R"(routes:
  - name: users
    backend: ap
backends:
  app: {servers: [127.0.0.1:1]}
)"),
                             "f.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:5:14: error: route 'users' refers to backend 'ap', which is not defined "
            "(did you mean 'app'?)");
}

TEST(ConfigLoader, DuplicateListenerNames) {
  const auto r = load_string(R"(listeners:
  - {name: web, listen: 127.0.0.1:0}
  - {name: web, listen: 127.0.0.1:0}
)",
                             "f.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:3:12: error: listener name 'web' is already used on line 2; names must be "
            "unique");
}

TEST(ConfigLoader, PortOutOfRange) {
  const auto r = load_string(R"(listeners:
  - name: web
    listen: 127.0.0.1:65536
)",
                             "f.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:3:13: error: listener 'web': listen: expected host:port, [v6]:port or *:port, "
            "got '127.0.0.1:65536': port 65536 is out of range 0..65535");
}

TEST(ConfigLoader, WrongTypeSaysWhatWasExpected) {
  const auto r = load_string(with_listener("shutdown: {grace: abc}\n"), "f.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:3:19: error: shutdown.grace: expected a duration such as 250ms, 3s or 5m, "
            "got 'abc'");
}

TEST(ConfigLoader, AllErrorsReportedInFileOrder) {
  const auto r = load_string(R"(workers: many
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: {header: 10}
  - name: web
    listen: nowhere
routes:
  - backend: missing
backends:
  app:
    balance: fastest
    servers: []
log: {level: loud}
)",
                             "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(count_errors(r), 8u) << dump(r);
  std::vector<int> lines;
  for (const auto& d : r.diagnostics)
    lines.push_back(d.line);
  EXPECT_EQ(lines, (std::vector<int>{1, 5, 6, 7, 9, 12, 13, 14})) << dump(r);
}

TEST(ConfigLoader, YamlSyntaxErrorHasPosition) {
  const auto r = load_string("listeners:\n  - name: web\n    listen: [1, 2\n", "f.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].line, 4) << dump(r);
  EXPECT_GE(r.diagnostics[0].column, 1);
  EXPECT_NE(r.diagnostics[0].message.find("invalid YAML"), std::string::npos);

  const auto bad_indent = load_string("listeners: 1\n  bad: 2\n", "g.yaml");
  ASSERT_EQ(bad_indent.diagnostics.size(), 1u) << dump(bad_indent);
  EXPECT_EQ(bad_indent.diagnostics[0].to_string(),
            "g.yaml:2:6: error: invalid YAML: unexpected ':' (mapping values are not allowed in "
            "this context)");
}

TEST(ConfigLoader, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "listeners: " + std::string(5000, '[') + std::string(5000, ']');
  const auto r = load_string(deep, "f.yaml");
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_NE(r.diagnostics[0].message.find("nested too deeply"), std::string::npos) << dump(r);
}

TEST(ConfigLoader, ControlCharactersInValuesAreEscaped) {
  const auto r = load_string("listeners:\n  - {name: \"a\\tb\", listen: \"\\x01:1\"}\n", "f.yaml");
  ASSERT_EQ(r.diagnostics.size(), 2u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].message,
            "listener 'a\\x09b': name: names are 1 to 128 characters without spaces or control "
            "characters");
  EXPECT_EQ(r.diagnostics[1].message,
            "listener 'a\\x09b': listen: expected host:port, [v6]:port or *:port, got '\\x01:1': "
            "the host is not a valid host name or IPv4 address");
}

TEST(ConfigLoader, DuplicateKeysAreErrors) {
  const auto r = load_string(R"(listeners:
  - name: web
    listen: 127.0.0.1:0
    name: other
backends:
  a: {servers: [127.0.0.1:1]}
  a: {servers: [127.0.0.1:2]}
)",
                             "f.yaml");
  ASSERT_EQ(count_errors(r), 2u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:4:5: error: listener 'web': key 'name' appears twice (first on line 2)");
  EXPECT_EQ(r.diagnostics[1].to_string(),
            "f.yaml:7:3: error: backends: backend 'a' is defined twice (first on line 6)");
}

TEST(ConfigLoader, WarningsKeepTheConfig) {
  const auto r = load_string(with_listener(R"(backends:
  a:
    hash: {key: path}
    servers: [127.0.0.1:1]
)"),
                             "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:5:11: warning: backend 'a': hash: ignored unless balance is hash");
}

// One mistake per row: the message it produces and where.
struct BadRow {
  const char* yaml;  // appended to a valid listener (line 1-2) unless it has its own
  int line;
  int column;
  const char* message;
};

TEST(ConfigLoader, EachMistakeIsReported) {
  const BadRow rows[] = {
      {"routes: [{backend: a, respond: {}}]\nbackends: {a: {servers: [127.0.0.1:1]}}", 3, 10,
       "route 'route-1': use only one of 'backend', 'respond' and 'redirect'"},
      {"routes: [{match: {path: /}}]", 3, 10,
       "route 'route-1': needs one of 'backend', 'respond' or 'redirect'"},
      {"routes: [{match: {path: x}, respond: {}}]", 3, 25,
       "route 'route-1': match.path: must start with '/', got 'x'"},
      {"routes: [{match: {path: /a, path_exact: /b}, respond: {}}]", 3, 18,
       "route 'route-1': match: use only one of path, path_exact and path_regex"},
      {"routes: [{match: {methods: [get]}, respond: {}}]", 3, 29,
       "route 'route-1': match.methods: methods are case-sensitive: write 'GET', not 'get'"},
      {"routes: [{match: {methods: ['GE T']}, respond: {}}]", 3, 29,
       "route 'route-1': match.methods: 'GE T' is not a method name"},
      {"routes: [{match: {host: 'a b'}, respond: {}}]", 3, 25,
       "route 'route-1': match.host: expected a host name such as api.example.com or "
       "*.example.com (without a port), got 'a b'"},
      {"routes: [{match: {headers: {X-A: [1]}}, respond: {}}]", 3, 34,
       "route 'route-1': match.headers.X-A: expected a value, {regex: ...} or {present: true}, "
       "got a list"},
      {"routes: [{match: {headers: {X-A: {regex: ''}}}, respond: {}}]", 3, 42,
       "route 'route-1': match.headers.X-A.regex: must not be empty"},
      {"routes: [{respond: {status: 99}}]", 3, 29,
       "route 'route-1': respond.status: expected a whole number from 100 to 599, got '99'"},
      {"routes: [{respond: {status: 204, body: x}}]", 3, 40,
       "route 'route-1': respond.body: a 204 response never carries a body"},
      {"routes: [{respond: {headers: {'X A': b}}}]", 3, 31,
       "route 'route-1': respond.headers: 'X A' is not a valid header field name"},
      {"routes: [{redirect: {status: 305, path: /}}]", 3, 30,
       "route 'route-1': redirect.status: expected 301, 302, 303, 307 or 308, got '305'"},
      {"routes: [{redirect: {keep_query: true}}]", 3, 21,
       "route 'route-1': redirect: needs at least one of scheme, host, port or path (otherwise it "
       "redirects to itself)"},
      {"routes: [{redirect: {scheme: ftp}}]", 3, 30,
       "route 'route-1': redirect.scheme: expected http or https, got 'ftp'"},
      {"routes: [{respond: {}, rewrite: {path: /x}}]", 3, 33,
       "route 'route-1': rewrite: only routes with a 'backend' can rewrite"},
      {"routes: [{match: {path: /a}, backend: a, rewrite: {path: /u/$1}}]\n"
       "backends: {a: {servers: [127.0.0.1:1]}}",
       3, 58,
       "route 'route-1': rewrite.path: uses $1, but the route has no match.path_regex to "
       "capture from"},
      {"routes: [{match: {path_regex: '^/(a)/(b)$'}, backend: a, rewrite: {path: /u/$3}}]\n"
       "backends: {a: {servers: [127.0.0.1:1]}}",
       3, 74,
       "route 'route-1': rewrite.path: uses $3, but match.path_regex has only 2 capture "
       "group(s)"},
      {"routes: [{match: {path_regex: '^/(a)$'}, backend: a, rewrite: {path: /u/$x}}]\n"
       "backends: {a: {servers: [127.0.0.1:1]}}",
       3, 70,
       "route 'route-1': rewrite.path: '$' must be followed by a capture number (as in $1 "
       "or ${12}), ${name}, or '$'"},
      {"routes: [{match: {path_regex: '^/(?P<id>a)$'}, backend: a, rewrite: {path: '/u/${idx}'}}]\n"
       "backends: {a: {servers: [127.0.0.1:1]}}",
       3, 76,
       "route 'route-1': rewrite.path: uses ${idx}, but match.path_regex has no group named 'idx'"},
      {"routes: [{listeners: [wbe], respond: {}}]", 3, 23,
       "route 'route-1' refers to listener 'wbe', which is not defined (did you mean 'web'?)"},
      {"routes: [{name: a, respond: {}}, {name: a, respond: {}}]", 3, 41,
       "route name 'a' is already used on line 3; names must be unique"},
      {"backends: {a: {}}", 3, 15, "backend 'a': missing required key 'servers'"},
      {"backends: {a: {servers: []}}", 3, 25,
       "backend 'a': servers: expected a non-empty list of servers, got a list"},
      {"backends: {a: {servers: ['127.0.0.1:0']}}", 3, 26,
       "backend 'a': servers: expected host:port or [v6]:port, got '127.0.0.1:0': port 0 is out "
       "of range 1..65535"},
      {"backends: {a: {servers: [{address: 'h:1', weight: 0}]}}", 3, 51,
       "backend 'a': servers.weight: expected a whole number from 1 to 256, got '0'"},
      {"backends: {a: {servers: [{weight: 2}]}}", 3, 26,
       "backend 'a': servers: missing required key 'address'"},
      {"backends: {a: {balance: round-robin, servers: [h:1]}}", 3, 25,
       "backend 'a': balance: expected round_robin, least_conn, random, p2c or hash, got "
       "'round-robin' (did you mean 'round_robin'?)"},
      {"backends: {a: {balance: hash, hash: {key: header}, servers: [h:1]}}", 3, 37,
       "backend 'a': hash: missing required key 'name'"},
      {"backends: {a: {retries: {attempts: 11}, servers: [h:1]}}", 3, 36,
       "backend 'a': retries.attempts: expected a whole number from 0 to 10, got '11'"},
      {"backends: {a: {timeouts: {connect: 0s}, servers: [h:1]}}", 3, 36,
       "backend 'a': timeouts.connect: must be longer than 0"},
      {"backends: {a: {health_check: {interval: 2s}, servers: [h:1]}}", 3, 30,
       "backend 'a': health_check: missing required key 'path' (or 'type: tcp' for a "
       "connect-only check)"},
      {"backends: {a: {health_check: {type: tcp, path: /}, servers: [h:1]}}", 3, 48,
       "backend 'a': health_check.path: not used by a tcp health check"},
      {"backends: {a: {pool: {reuse: sometimes}, servers: [h:1]}}", 3, 30,
       "backend 'a': pool.reuse: expected never, safe or always, got 'sometimes'"},
      {"forwarded: {except: [10.0.0.0/33]}", 3, 22,
       "forwarded.except: expected a network such as 10.0.0.0/8 or ::1/128, got '10.0.0.0/33'"},
      {"forwarded: {x_forwarded_for: maybe}", 3, 30,
       "forwarded.x_forwarded_for: expected true or false, got 'maybe'"},
      {"workers: 0", 3, 10, "workers: expected auto or a whole number from 1 to 1024, got '0'"},
      {"busy_poll: 25", 3, 12,
       "busy_poll: expected true, false or a duration such as 25us, got '25'"},
      {"busy_poll: 25s", 3, 12,
       "busy_poll: expected true, false or a duration such as 25us, got '25s'"},
      {"busy_poll: -5us", 3, 12,
       "busy_poll: expected true, false or a duration such as 25us, got '-5us'"},
      {"busy_poll: 2ms", 3, 12, "busy_poll: at most 1ms, got '2ms'"},
      {"busy_poll: 1001us", 3, 12, "busy_poll: at most 1ms, got '1001us'"},
      {"busy_poll: 99999999999999999999us", 3, 12,
       "busy_poll: expected true, false or a duration such as 25us, got "
       "'99999999999999999999us'"},
      {"admin: {}", 3, 8, "admin: missing required key 'listen'"},
      {"admin: {listen: '127.0.0.1:0'}\nlisteners: []", 4, 12,
       "listeners: expected a non-empty list of listeners, got a list"},
      {"log: {level: verbose}", 3, 14,
       "log.level: expected trace, debug, info, warn or error, got 'verbose'"},
      {"watch: [x]", 3, 8, "watch: expected a single value, got a list"},
      {"routes: {a: 1}", 3, 9, "routes: expected a list of routes, got a map"},
  };
  for (const auto& row : rows) {
    std::string yaml = row.yaml;
    const bool own =
        yaml.rfind("listeners:", 0) == 0 || yaml.find("\nlisteners:") != std::string::npos;
    if (!own)
      yaml = with_listener(yaml);
    else
      yaml = "# own listeners\n\n" + yaml;
    const auto r = load_string(yaml, "f.yaml");
    EXPECT_FALSE(r.ok()) << row.yaml;
    ASSERT_FALSE(r.diagnostics.empty()) << row.yaml;
    const Diagnostic& d = r.diagnostics.front();
    EXPECT_EQ(d.message, row.message) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.line, row.line) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.column, row.column) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(count_errors(r), 1u) << row.yaml << "\n" << dump(r);
  }
}

TEST(ConfigLoader, BusyPollTakesTrueFalseOrADurationUpToAMillisecond) {
  const std::pair<const char*, long> rows[] = {
      {"true", 25}, {"false", 0},  {"0", 0},         {"0us", 0},
      {"40us", 40}, {"1ms", 1000}, {"1000us", 1000},
  };
  for (const auto& [text, us] : rows) {
    const auto r = load_string(with_listener(std::string("busy_poll: ") + text + "\n"), "f.yaml");
    ASSERT_TRUE(r.ok()) << text << "\n" << dump(r);
    EXPECT_EQ(r.config->busy_poll, std::chrono::microseconds(us)) << text;
  }
}

TEST(ConfigLoader, ListenerRules) {
  const BadRow rows[] = {
      {"listeners: [{name: a, listen: '127.0.0.1:80'}, {name: b, listen: '127.0.0.1:80'}]", 3, 66,
       "listener 'b': address 127.0.0.1:80 is already used on line 3"},
      {"listeners: [{name: a, listen: '*:80'}, {name: b, listen: '0.0.0.0:80'}]", 3, 58,
       "listener 'b': address 0.0.0.0:80 is already used on line 3"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', protocol: tcp}]", 3, 13,
       "listener 'a': missing required key 'backend' (a tcp listener forwards to one backend, "
       "or routes by sni_routes)"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', protocol: tcp, backend: pgsq}]\n"
       "backends: {pgsql: {servers: [h:1]}}",
       3, 70,
       "listener 'a' refers to backend 'pgsq', which is not defined (did you mean 'pgsql'?)"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', backend: x}]", 3, 55,
       "listener 'a': backend: only tcp listeners name a backend; http listeners reach backends "
       "through routes"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', protocol: udp}]", 3, 56,
       "listener 'a': protocol: expected http or tcp, got 'udp'"},
      {"listeners: [{listen: '127.0.0.1:0'}]", 3, 13, "listener 1: missing required key 'name'"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', max_header_size: 128KiB}]", 3, 63,
       "listener 'a': max_header_size: must be from 1KiB to 64KiB, got '128KiB'"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', max_request_line: 32KiB}]", 3, 64,
       "listener 'a': max_request_line: must be at least 64 bytes and at most max_header_size "
       "(16384 bytes)"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', keep_underscore_fields: sometimes}]", 3, 70,
       "listener 'a': keep_underscore_fields: expected true or false, got 'sometimes'"},
      {"listeners: [{name: a, listen: '127.0.0.1:0', timeouts: {header: 10}}]", 3, 65,
       "listener 'a': timeouts.header: expected a duration such as 250ms, 3s or 5m, got '10'"},
      {"listeners: [{name: a, listen: '[::1]:80'}]\nroutes: [{listeners: [a, b], respond: {}}]", 4,
       26, "route 'route-1' refers to listener 'b', which is not defined"},
      {"listeners: [{name: a, listen: 'x:1', protocol: tcp, backend: b}, {name: h, listen: "
       "'x:2'}]\nroutes: [{listeners: [a], respond: {}}]\nbackends: {b: {servers: [h:1]}}",
       4, 23,
       "route 'route-1': listener 'a' is a tcp listener; routes apply to http listeners only"},
      {"admin: {listen: '127.0.0.1:9000'}\nlisteners: [{name: a, listen: '127.0.0.1:9000'}]", 4, 31,
       "listener 'a': address 127.0.0.1:9000 is already used on line 3"},
  };
  for (const auto& row : rows) {
    const auto r = load_string("# own listeners\n\n" + std::string(row.yaml), "f.yaml");
    EXPECT_FALSE(r.ok()) << row.yaml;
    ASSERT_FALSE(r.diagnostics.empty()) << row.yaml;
    const Diagnostic& d = r.diagnostics.front();
    EXPECT_EQ(d.message, row.message) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.line, row.line) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.column, row.column) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(count_errors(r), 1u) << row.yaml << "\n" << dump(r);
  }
}

TEST(ConfigLoader, OddDocuments) {
  const char* const kStrayComma =
      "invalid YAML: unexpected ',' (did not find expected node content while parsing a block "
      "node)";
  struct Row {
    const char* yaml;
    const char* message;
  };
  const Row rows[] = {
      {"", "the file is empty: expected at least 'listeners'"},
      {"# only a comment\n", "the file is empty: expected at least 'listeners'"},
      {"- a\n- b\n", "configuration: expected a map of settings, got a list"},
      {"just text", "configuration: expected a map of settings, got 'just text'"},
      {"watch: true\n", "configuration: missing required key 'listeners'"},
      {"listeners: [{name: a, listen: 'h:1'}]\n---\nwatch: true\n",
       "expected a single YAML document, found another one here"},
      // yaml-cpp 0.7 looped on these, reporting empty documents forever.
      {",", kStrayComma},
      {",listeners:\n  - \n", kStrayComma},
      {"---\n,", kStrayComma},
      {"[a]: 1\nlisteners: [{name: a, listen: 'h:1'}]\n",
       "configuration: expected a key name, got a list"},
  };
  for (const auto& row : rows) {
    const auto r = load_string(row.yaml, "f.yaml");
    EXPECT_FALSE(r.ok()) << row.yaml;
    ASSERT_EQ(r.diagnostics.size(), 1u) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(r.diagnostics[0].message, row.message) << row.yaml;
    EXPECT_GE(r.diagnostics[0].line, 1) << row.yaml;
  }
}

TEST(ConfigLoader, RewriteTemplates) {
  struct Row {
    const char* regex;
    const char* path;
    bool ok;
  };
  const Row rows[] = {
      {"^/(a)(b)$", "/x/$1/$2", true},
      {"^/(a)$", "/x/${1}", true},
      {"^/(a)$", "/price/$$1", true},  // "$$" is a literal '$'
      {"^/(?:a)(b)$", "/$1", true},
      {"^/(?:a)(b)$", "/$2", false},  // (?:...) does not capture
      {"^/(?P<id>[0-9]+)$", "/$1", true},
      {"^/[(]a[)](b)$", "/$1", true},
      {"^/[(]a[)](b)$", "/$2", false},  // parentheses in a class are literal
      {"^/\\(a\\)$", "/$1", false},     // so are escaped ones
      {"^/(a)$", "/$", false},
      {"^/(a)$", "/${x}", false},
      {"^/(a)$", "/${1", false},
      {"^/(a)$", "/all$0", true},  // $0 is the whole match
  };
  for (const auto& row : rows) {
    const std::string yaml = with_listener(std::string("routes: [{match: {path_regex: '") +
                                           row.regex + "'}, backend: a, rewrite: {path: '" +
                                           row.path + "'}}]\nbackends: {a: {servers: [h:1]}}\n");
    const auto r = load_string(yaml, "f.yaml");
    EXPECT_EQ(r.ok(), row.ok) << row.regex << " -> " << row.path << "\n" << dump(r);
  }
}

TEST(ConfigLoader, LoadFile) {
  const test::TempDir dir;
  const std::string path = dir.write("sluice.yaml", kSketch);
  const auto r = load_file(path);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->file, path);

  const std::string bad = dir.write("bad.yaml", "listeners: []\n");
  const auto rb = load_file(bad);
  ASSERT_EQ(rb.diagnostics.size(), 1u);
  EXPECT_EQ(rb.diagnostics[0].file, bad);
}

TEST(ConfigLoader, LoadFileMissing) {
  const test::TempDir dir;
  const std::string path = (dir.path() / "nope.yaml").string();
  const auto r = load_file(path);
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].line, 0);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            path + ":0:0: error: cannot open the configuration file: No such file or directory");
}

TEST(ConfigLoader, ConfigIsAnImmutableSnapshot) {
  static_assert(std::is_same_v<decltype(LoadResult::config), std::shared_ptr<const Config>>);
  const auto r = load_string(kSketch, "a.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  // A later load of another text (what a reload does) gives a new
  // snapshot and leaves the first one as it was.
  std::string changed = kSketch;
  changed.replace(changed.find("workers: auto"), 13, "workers: 3");
  changed.replace(changed.find("10.0.0.1:8080"), 13, "10.0.0.9:9090");
  const auto again = load_string(changed, "b.yaml");
  ASSERT_TRUE(again.ok()) << dump(again);
  EXPECT_EQ(again.config->workers, 3);
  EXPECT_EQ(again.config->file, "b.yaml");
  EXPECT_EQ(again.config->backends.at(0).servers.at(0).address, "10.0.0.9:9090");
  EXPECT_EQ(r.config->workers, 0);
  EXPECT_EQ(r.config->file, "a.yaml");
  EXPECT_EQ(r.config->backends.at(0).servers.at(0).address, "10.0.0.1:8080");
  // The same text loads to the same values.
  const auto same = load_string(kSketch, "a.yaml");
  ASSERT_TRUE(same.ok()) << dump(same);
  EXPECT_EQ(same.config->workers, r.config->workers);
  EXPECT_EQ(same.config->listeners.size(), r.config->listeners.size());
  EXPECT_EQ(same.config->routes.size(), r.config->routes.size());
  EXPECT_EQ(same.config->backends.at(0).servers.at(0).address,
            r.config->backends.at(0).servers.at(0).address);
}

// Issue 13 items 5, 6 and 12: resolve_interval, queue.max_size's finite
// default, health_check.host and expect_status.
const Backend& only_backend(const LoadResult& r) {
  static const Backend none;
  return r.ok() && !r.config->backends.empty() ? r.config->backends.front() : none;
}

TEST(ConfigLoader, NewBackendKeysHaveFiniteDefaults) {
  const auto r = load_string(
      with_listener("backends: {a: {servers: [h:1], health_check: {path: /h}}}\n"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Backend& b = only_backend(r);
  EXPECT_EQ(b.resolve_interval, milliseconds(30'000));
  EXPECT_EQ(b.queue.max_size, 1024u);
  EXPECT_FALSE(b.health_check->host);
  EXPECT_EQ(b.health_check->expect_status, (std::vector<StatusRange>{{200, 399}}));
}

TEST(ConfigLoader, NewBackendKeysAcceptedValues) {
  struct Row {
    const char* backend;  // inside the backend's flow map
    std::vector<StatusRange> expect;
  };
  const Row rows[] = {
      {"health_check: {path: /h, expect_status: 204}", {{204, 204}}},
      {"health_check: {path: /h, expect_status: 200-299}", {{200, 299}}},
      {"health_check: {path: /h, expect_status: '301-302'}", {{301, 302}}},
      {"health_check: {path: /h, expect_status: [200, 204, 300-399]}",
       {{200, 200}, {204, 204}, {300, 399}}},
  };
  for (const auto& row : rows) {
    const auto r = load_string(
        with_listener(std::string("backends: {a: {servers: [h:1], ") + row.backend + "}}\n"),
        "f.yaml");
    ASSERT_TRUE(r.ok()) << row.backend << "\n" << dump(r);
    EXPECT_EQ(only_backend(r).health_check->expect_status, row.expect) << row.backend;
  }
  const auto r = load_string(
      with_listener("backends: {a: {servers: [h:1], resolve_interval: 0s, queue: {max_size: 0}, "
                    "health_check: {path: /h, host: app.example.com:8080}}}\n"),
      "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(only_backend(r).resolve_interval, milliseconds(0));
  EXPECT_EQ(only_backend(r).queue.max_size, 0u);
  EXPECT_EQ(only_backend(r).health_check->host, "app.example.com:8080");
  for (const char* host : {"app.example", "10.0.0.1", "[::1]", "[::1]:8080"}) {
    const auto h = load_string(
        with_listener(std::string("backends: {a: {servers: [h:1], health_check: {path: /h, "
                                  "host: '") +
                      host + "'}}}\n"),
        "f.yaml");
    EXPECT_TRUE(h.ok()) << host << "\n" << dump(h);
  }
}

TEST(ConfigLoader, NewBackendKeysRejectedValues) {
  const BadRow rows[] = {
      {"backends: {a: {servers: [h:1], resolve_interval: soon}}", 3, 50,
       "backend 'a': resolve_interval: expected a duration such as 250ms, 3s or 5m, got 'soon'"},
      {"backends: {a: {servers: [h:1], queue: {max_size: -1}}}", 3, 50,
       "backend 'a': queue.max_size: expected a whole number from 0 to 1000000000, got '-1'"},
      {"backends: {a: {servers: [h:1], health_check: {path: /h, expect_status: 600}}}", 3, 72,
       "backend 'a': health_check.expect_status: expected a status from 100 to 599 or a range "
       "such as 200-399, got '600'"},
      {"backends: {a: {servers: [h:1], health_check: {path: /h, expect_status: 399-200}}}", 3, 72,
       "backend 'a': health_check.expect_status: expected a status from 100 to 599 or a range "
       "such as 200-399, got '399-200'"},
      {"backends: {a: {servers: [h:1], health_check: {path: /h, expect_status: [200, x]}}}", 3, 78,
       "backend 'a': health_check.expect_status: expected a status from 100 to 599 or a range "
       "such as 200-399, got 'x'"},
      {"backends: {a: {servers: [h:1], health_check: {path: /h, expect_status: []}}}", 3, 72,
       "backend 'a': health_check.expect_status: expected at least one status"},
      {"backends: {a: {servers: [h:1], health_check: {path: /h, host: 'a b'}}}", 3, 63,
       "backend 'a': health_check.host: expected a host name, optionally with :port, got 'a b'"},
      {"backends: {a: {servers: [h:1], health_check: {type: tcp, host: a}}}", 3, 64,
       "backend 'a': health_check.host: not used by a tcp health check"},
  };
  for (const auto& row : rows) {
    const auto r = load_string(with_listener(row.yaml), "f.yaml");
    EXPECT_FALSE(r.ok()) << row.yaml;
    ASSERT_FALSE(r.diagnostics.empty()) << row.yaml;
    const Diagnostic& d = r.diagnostics.front();
    EXPECT_EQ(d.message, row.message) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.line, row.line) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.column, row.column) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(count_errors(r), 1u) << row.yaml << "\n" << dump(r);
  }
}

// ------------------------------------------------ admin (issue 13 item 3)

TEST(ConfigLoader, AdminDefaultsAreALoopbackListenerWithoutToken) {
  const auto r = load_string(with_listener("admin: {listen: '127.0.0.1:9901'}\n"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Admin& a = *r.config->admin;
  EXPECT_FALSE(a.token_file);
  EXPECT_EQ(a.token, "");
  EXPECT_TRUE(a.names.empty());
  EXPECT_EQ(a.max_body, 4u * 1024 * 1024);
  EXPECT_EQ(a.max_connections, 64);
  EXPECT_EQ(a.request_timeout, milliseconds(10'000));
}

TEST(ConfigLoader, AdminEveryKeyWithATokenFileBesideTheConfiguration) {
  const test::TempDir dir;
  dir.write("admin.token", "tok3n-._~+/AZaz09==\r\n");
  const std::string path = dir.write("sluice.yaml", with_listener(R"(admin:
  listen: 0.0.0.0:9901
  token_file: admin.token
  names: [Admin.Example., "admin.example:9443", "[::1]:9901"]
  max_body: 1MiB
  max_connections: 8
  request_timeout: 3s
)"));
  const auto r = load_file(path);
  ASSERT_TRUE(r.ok()) << dump(r);
  const Admin& a = *r.config->admin;
  EXPECT_EQ(a.token_file, "admin.token");
  EXPECT_EQ(a.token, "tok3n-._~+/AZaz09==") << "the line break is not part of it";
  EXPECT_EQ(a.token_file_where.line, 5);
  EXPECT_EQ(a.token_file_where.column, 15);
  EXPECT_EQ(a.names,
            (std::vector<std::string>{"admin.example", "admin.example:9443", "[::1]:9901"}));
  EXPECT_EQ(a.max_body, 1024u * 1024);
  EXPECT_EQ(a.max_connections, 8);
  EXPECT_EQ(a.request_timeout, milliseconds(3'000));

  // Text loaded with a base directory (POST /config) finds it there too.
  const auto posted =
      load_string(with_listener("admin: {listen: '[::]:9901', token_file: admin.token}\n"),
                  "POST /config", dir.path().string());
  ASSERT_TRUE(posted.ok()) << dump(posted);
  EXPECT_EQ(posted.config->admin->token, "tok3n-._~+/AZaz09==");
}

TEST(ConfigLoader, AdminRules) {
  const BadRow rows[] = {
      {"admin: {listen: '0.0.0.0:9901'}", 3, 17,
       "admin.listen: 0.0.0.0:9901 is not a loopback address, so admin.token_file is required: "
       "without a token anyone who can reach it could replace the configuration (or listen on "
       "127.0.0.1)"},
      {"admin: {listen: '*:9901'}", 3, 17,
       "admin.listen: *:9901 is not a loopback address, so admin.token_file is required: "
       "without a token anyone who can reach it could replace the configuration (or listen on "
       "127.0.0.1)"},
      {"admin: {listen: '10.0.0.1:9901'}", 3, 17,
       "admin.listen: 10.0.0.1:9901 is not a loopback address, so admin.token_file is required: "
       "without a token anyone who can reach it could replace the configuration (or listen on "
       "127.0.0.1)"},
      {"admin: {listen: '127.0.0.1:9901', token_file: /nonexistent/admin.token}", 3, 47,
       "admin.token_file: cannot read /nonexistent/admin.token: No such file or directory"},
      {"admin: {listen: '127.0.0.1:9901', names: ['bad name']}", 3, 43,
       "admin.names: expected a host name as clients send it in Host (admin.example or "
       "admin.example:9901), got 'bad name'"},
      {"admin: {listen: '127.0.0.1:9901', names: ['admin.example:99999']}", 3, 43,
       "admin.names: expected a host name as clients send it in Host (admin.example or "
       "admin.example:9901), got 'admin.example:99999'"},
      {"admin: {listen: '127.0.0.1:9901', max_body: 0}", 3, 45,
       "admin.max_body: must be at least 1 byte"},
      {"admin: {listen: '127.0.0.1:9901', max_connections: 0}", 3, 52,
       "admin.max_connections: expected a whole number from 1 to 100000, got '0'"},
      {"admin: {listen: '127.0.0.1:9901', request_timeout: 0s}", 3, 52,
       "admin.request_timeout: must be longer than 0"},
  };
  for (const auto& row : rows) {
    const auto r = load_string(with_listener(row.yaml), "f.yaml");
    EXPECT_FALSE(r.ok()) << row.yaml;
    ASSERT_FALSE(r.diagnostics.empty()) << row.yaml;
    const Diagnostic& d = r.diagnostics.front();
    EXPECT_EQ(d.message, row.message) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.line, row.line) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(d.column, row.column) << row.yaml << "\n" << dump(r);
    EXPECT_EQ(count_errors(r), 1u) << row.yaml << "\n" << dump(r);
  }
  for (const char* loopback :
       {"127.0.0.1:9901", "127.8.9.10:0", "'[::1]:9901'", "localhost:9901"}) {
    const auto r =
        load_string(with_listener("admin: {listen: " + std::string(loopback) + "}\n"), "f.yaml");
    EXPECT_TRUE(r.ok()) << loopback << "\n" << dump(r);
  }
}

TEST(ConfigLoader, AdminTokenFileMustHoldOneUsableLine) {
  const test::TempDir dir;
  struct Row {
    const char* content;
    const char* message_part;
  };
  const Row rows[] = {
      {"", "is empty"},
      {"\n", "is empty"},
      {"two words\n", "must hold one line"},
      {"line\nline\n", "must hold one line"},
      {"caf\xc3\xa9\n", "must hold one line"},
  };
  for (const auto& row : rows) {
    const std::string token = dir.write("t.token", row.content);
    const auto r = load_string(
        with_listener("admin: {listen: '127.0.0.1:9901', token_file: " + token + "}\n"), "f.yaml");
    EXPECT_FALSE(r.ok()) << row.content;
    ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
    EXPECT_EQ(r.diagnostics[0].line, 3);
    EXPECT_EQ(r.diagnostics[0].column, 47);
    EXPECT_NE(r.diagnostics[0].message.find(row.message_part), std::string::npos) << dump(r);
    EXPECT_NE(r.diagnostics[0].message.find(token), std::string::npos) << dump(r);
  }
  const std::string huge = dir.write("huge.token", std::string(2000, 'a'));
  const auto r = load_string(
      with_listener("admin: {listen: '127.0.0.1:9901', token_file: " + huge + "}\n"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("more than 1024 bytes"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace sluice::config
