// Route selection as an operator configures it: listener scope, hosts (exact,
// wildcard), paths (exact, prefix, regex), methods, headers, query, the
// documented order of precedence, and the path normalisation applied first.
#include "route/route_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "http/message.h"
#include "route/path_normalizer.h"

namespace sluice::route {
namespace {

const char* kConfig = R"(listeners:
  - name: web
    listen: 127.0.0.1:0
  - name: internal
    listen: 127.0.0.1:0
routes:
  - name: catch-all
    match: {path: /}
    respond: {status: 200, body: "root"}
  - name: api
    match: {path: /api/}
    respond: {status: 200}
  - name: api-v2
    match: {path: /api/v2/}
    respond: {status: 200}
  - name: exact-health
    match: {path_exact: /health}
    respond: {status: 200}
  - name: admin-block
    match: {path: /admin}
    respond: {status: 403}
  - name: admin-host
    match: {host: admin.example.com, path: /}
    respond: {status: 200}
  - name: wildcard-host
    match: {host: "*.example.com", path: /}
    respond: {status: 200}
  - name: deep-wildcard
    match: {host: "*.eu.example.com"}
    respond: {status: 200}
  - name: deletes
    match: {path: /items/, methods: [DELETE]}
    respond: {status: 403}
  - name: internal-only
    listeners: [internal]
    match: {path: /debug/}
    respond: {status: 200}
  - name: urgent
    priority: 10
    match: {path: /api/v2/urgent}
    respond: {status: 503}
  - name: users-regex
    priority: 1
    match: {path_regex: "^/app/users/([0-9]{4})$"}
    backend: app
    rewrite: {path: /users/$1}
  - name: named-regex
    priority: 1
    match: {path_regex: "^/shop/(?P<item>[a-z]+)/(?P<size>[0-9]+)$"}
    backend: app
    rewrite: {path: "/items/${item}?size=${size}"}
  - name: app-prefix
    match: {path: /app/}
    backend: app
  - name: canary
    match: {path: /feature, headers: {X-Env: canary}}
    respond: {status: 200}
  - name: versioned
    match: {path: /feature, headers: {X-Version: {regex: "^v[0-9]+$"}}}
    respond: {status: 200}
  - name: traced
    match: {path: /feature, headers: {X-Trace: {present: true}}}
    respond: {status: 200}
  - name: feature
    match: {path: /feature}
    respond: {status: 200}
  - name: beta-query
    match: {path: /search, query: {beta: "1"}}
    respond: {status: 200}
  - name: debug-query
    match: {path: /search, query: {debug: {present: true}}}
    respond: {status: 200}
  - name: shop-host-regex
    match: {host: shop.example.com, path_regex: "^/p/[0-9]+$"}
    respond: {status: 200}
  - name: shop-host-exact
    match: {host: shop.example.com, path_exact: /p/1}
    respond: {status: 200}
  - name: late-exact
    match: {path_exact: /late}
    respond: {status: 200}
  - name: legacy-regex
    match: {path_regex: "^/legacy/"}
    respond: {status: 410}
  - name: legacy-host-regex
    match: {host: old.example.org, path_regex: "^/legacy/"}
    respond: {status: 410}
  - name: posts-only
    match: {path: /form, methods: [POST, PUT]}
    respond: {status: 200}
backends:
  app:
    servers: [127.0.0.1:9]
)";

struct Row {
  std::size_t listener;
  const char* host;
  const char* method;
  const char* target;    // raw: normalised and split here as the proxy does
  const char* expected;  // route name, or "" for no match
  std::vector<http::HeaderField> fields = {};
};

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::load_string(kConfig, "routes.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? ""
                                                            : loaded.diagnostics[0].to_string());
    config_ = loaded.config;
    std::vector<RouteFinding> errors;
    table_ = RouteTable::build(*config_, &errors);
    ASSERT_TRUE(errors.empty()) << errors[0].message;
  }
  const Route* lookup(const Row& r, Captures& captures) {
    std::string_view target = r.target;
    const auto q = target.find('?');
    RequestView v;
    v.listener = r.listener;
    v.host = r.host;
    v.method = r.method;
    v.query = q == std::string_view::npos ? "" : target.substr(q + 1);
    // As on a listener with `escaped_slashes: keep`, so rows can show how
    // routes treat a kept %2F.
    EXPECT_EQ(normalize_path(target.substr(0, q), path_, {.keep_escaped_slashes = true}),
              PathError::none)
        << r.target;
    v.path = path_;
    v.fields = r.fields;
    return table_->match(v, &captures);
  }
  std::string match(const Row& r) {
    Captures captures;
    const Route* route = lookup(r, captures);
    return route ? route->name : "";
  }
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const RouteTable> table_;
  std::string path_;
};

TEST_F(RouteTableTest, SelectsByTheDocumentedPrecedence) {
  const std::vector<Row> rows = {
      // paths: exact over longer prefix over shorter prefix
      {0, "a", "GET", "/", "catch-all"},
      {0, "a", "GET", "/anything", "catch-all"},
      {0, "a", "GET", "/api/x", "api"},
      {0, "a", "GET", "/api", "catch-all"},  // prefix /api/ needs the slash
      {0, "a", "GET", "/api/v2/x", "api-v2"},
      {0, "a", "GET", "/api/v2/", "api-v2"},
      {0, "a", "GET", "/health", "exact-health"},
      {0, "a", "GET", "/health/x", "catch-all"},
      {0, "a", "GET", "/health?x=1", "exact-health"},  // the query is not the path
      {0, "a", "GET", "/late", "late-exact"},          // exact beats earlier prefixes
      // priority first
      {0, "a", "GET", "/api/v2/urgent", "urgent"},
      {0, "a", "GET", "/api/v2/urgent/more", "urgent"},
      // hosts: exact over wildcard over any, longer wildcard first
      {0, "admin.example.com", "GET", "/", "admin-host"},
      {0, "admin.example.com", "GET", "/api/x", "admin-host"},  // host beats path length
      {0, "shop.example.com", "GET", "/api/x", "wildcard-host"},
      {0, "a.b.example.com", "GET", "/x", "wildcard-host"},
      {0, "fr.eu.example.com", "GET", "/x", "deep-wildcard"},
      {0, "eu.example.com", "GET", "/x", "wildcard-host"},
      {0, "example.com", "GET", "/", "catch-all"},  // *.example.com needs a label
      {0, "notexample.com", "GET", "/", "catch-all"},
      {0, "shop.example.com", "GET", "/p/1", "shop-host-exact"},  // exact over regex
      {0, "shop.example.com", "GET", "/p/22", "shop-host-regex"},
      {0, "shop.example.com", "GET", "/p/x", "wildcard-host"},
      // methods
      {0, "a", "DELETE", "/items/1", "deletes"},
      {0, "a", "GET", "/items/1", "catch-all"},
      {0, "a", "POST", "/form", "posts-only"},
      {0, "a", "PUT", "/form", "posts-only"},
      {0, "a", "GET", "/form", "catch-all"},
      {0, "a", "post", "/form", "catch-all"},  // methods are case-sensitive
      // listeners
      {0, "a", "GET", "/debug/x", "catch-all"},
      {1, "a", "GET", "/debug/x", "internal-only"},
      {1, "a", "GET", "/api/x", "api"},
      // regexes
      {0, "a", "GET", "/app/users/1234", "users-regex"},
      {0, "a", "GET", "/app/users/123", "app-prefix"},
      {0, "a", "GET", "/legacy/x", "catch-all"},  // a regex ranks below any prefix...
      {0, "old.example.org", "GET", "/legacy/x", "legacy-host-regex"},  // ...of its host rank
      {0, "a", "GET", "/app/users/12345", "app-prefix"},
      {0, "a", "GET", "/app/other", "app-prefix"},
      {0, "a", "GET", "/shop/shirt/42", "named-regex"},
      {0, "a", "GET", "/shop/Shirt/42", "catch-all"},
      // headers
      {0, "a", "GET", "/feature", "canary", {{"X-Env", "canary"}}},
      {0, "a", "GET", "/feature", "canary", {{"x-env", "canary"}}},   // names: any case
      {0, "a", "GET", "/feature", "feature", {{"X-Env", "Canary"}}},  // values: exact
      {0, "a", "GET", "/feature", "versioned", {{"X-Version", "v12"}}},
      {0, "a", "GET", "/feature", "feature", {{"X-Version", "12"}}},
      {0, "a", "GET", "/feature", "traced", {{"X-Trace", ""}}},
      {0, "a", "GET", "/feature", "canary", {{"X-Trace", "1"}, {"X-Env", "canary"}}},
      {0, "a", "GET", "/feature", "feature"},
      // query
      {0, "a", "GET", "/search?beta=1", "beta-query"},
      {0, "a", "GET", "/search?q=x&beta=1", "beta-query"},
      {0, "a", "GET", "/search?beta=2", "catch-all"},
      {0, "a", "GET", "/search?debug", "debug-query"},
      {0, "a", "GET", "/search?debug=0&beta=1", "beta-query"},
      {0, "a", "GET", "/search", "catch-all"},
      // normalisation (RFC 3986 §6) before matching: /admin has one spelling
      {0, "a", "GET", "/%61dmin", "admin-block"},
      {0, "a", "GET", "/x/../admin", "admin-block"},
      {0, "a", "GET", "//admin", "admin-block"},
      {0, "a", "GET", "/./admin", "admin-block"},
      {0, "a", "GET", "/x/%2e%2E/admin", "admin-block"},
      {0, "a", "GET", "/x/y/../../admin", "admin-block"},
      {0, "a", "GET", "/app/x/%2E%2E/users/1234", "users-regex"},
      {0, "a", "GET", "/api/v2/../x", "api"},
      {0, "a", "GET", "/he%61lth", "exact-health"},
      {0, "a", "GET", "/admin%2Fx", "admin-block"},  // kept %2F stays encoded, still a prefix
      {0, "a", "GET", "/api%2Fx", "catch-all"},      // ...so this is not under /api/
  };
  ASSERT_GE(rows.size(), 60u);
  for (const auto& r : rows) {
    EXPECT_EQ(match(r), r.expected)
        << "listener " << r.listener << " " << r.host << " " << r.method << " " << r.target;
  }
}

TEST_F(RouteTableTest, CapturesComeFromTheWinningRegex) {
  Captures captures;
  const Route* r = lookup({0, "a", "GET", "/shop/shirt/42", ""}, captures);
  ASSERT_NE(r, nullptr);
  std::string target;
  ASSERT_TRUE(rewrite_target(r->rewrite(), path_, "", captures, {}, target));
  EXPECT_EQ(target, "/items/shirt?size=42");
  r = lookup({0, "a", "GET", "/app/users/0042?x=1", ""}, captures);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(rewrite_target(r->rewrite(), path_, "x=1", captures, {}, target));
  EXPECT_EQ(target, "/users/0042?x=1");
}

TEST_F(RouteTableTest, PreparedResponseCarriesStatusAndBody) {
  Captures captures;
  const Route* r = lookup({0, "a", "GET", "/", ""}, captures);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->respond().status, 200);
  EXPECT_TRUE(r->respond().has_content);
  EXPECT_EQ(r->respond().body, "root");
}

TEST(PrepareResponse, KeepsFieldsInOrder) {
  auto r = prepare_response(200, {{"X-B", "2"}, {"X-A", "1"}}, "b");
  std::array<http::HeaderField, 4> out;
  ASSERT_EQ(r.fields_into(out), 2u);
  EXPECT_EQ(out[0].name, "X-B");
  EXPECT_EQ(out[0].value, "2");
  EXPECT_EQ(out[1].name, "X-A");
}

TEST(PrepareResponse, NoContentOn204) {
  auto r = prepare_response(204, {}, "ignored");
  EXPECT_FALSE(r.has_content);
  EXPECT_TRUE(r.body.empty());
}

}  // namespace
}  // namespace sluice::route
