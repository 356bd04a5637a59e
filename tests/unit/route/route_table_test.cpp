// Route selection as an operator configures it: listener scope, host, path
// prefix or exact path, methods, and the documented order of precedence.
#include "route/route_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/model.h"

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
  - name: admin-host
    match: {host: admin.example.com, path: /}
    respond: {status: 200}
  - name: wildcard-host
    match: {host: "*.example.com", path: /}
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
)";

struct Row {
  std::size_t listener;
  const char* host;
  const char* path;
  const char* method;
  const char* expected;  // route name, or "" for no match
};

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::load_string(kConfig, "routes.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? ""
                                                            : loaded.diagnostics[0].to_string());
    config_ = loaded.config;
    table_ = RouteTable::build(*config_);
  }
  std::string match(const Row& r) {
    const Route* route = table_->match(r.listener, r.host, r.path, r.method);
    return route ? route->name : "";
  }
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const RouteTable> table_;
};

TEST_F(RouteTableTest, SelectsTheMostSpecificRoute) {
  const std::vector<Row> rows = {
      {0, "a", "/", "GET", "catch-all"},
      {0, "a", "/anything", "GET", "catch-all"},
      {0, "a", "/api/x", "GET", "api"},
      {0, "a", "/api", "GET", "catch-all"},                       // prefix /api/ needs the slash
      {0, "a", "/api/v2/x", "GET", "api-v2"},                     // longer prefix wins
      {0, "a", "/health", "GET", "exact-health"},                 // exact over prefix
      {0, "a", "/health/x", "GET", "catch-all"},                  // exact is exact
      {0, "admin.example.com", "/", "GET", "admin-host"},         // exact host over wildcard
      {0, "shop.example.com", "/api/x", "GET", "wildcard-host"},  // host beats path length
      {0, "example.com", "/", "GET", "catch-all"},                // *.example.com needs a label
      {0, "a", "/items/1", "DELETE", "deletes"},
      {0, "a", "/items/1", "GET", "catch-all"},  // method filter
      {0, "a", "/debug/x", "GET", "catch-all"},  // scoped to the other listener
      {1, "a", "/debug/x", "GET", "internal-only"},
      {0, "a", "/api/v2/urgent", "GET", "urgent"},  // explicit priority first
  };
  for (const auto& r : rows) {
    EXPECT_EQ(match(r), r.expected) << r.host << " " << r.path << " " << r.method;
  }
}

TEST_F(RouteTableTest, PreparedResponseCarriesStatusLineAndLength) {
  const Route* r = table_->match(0, "a", "/", "GET");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->respond.head, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n");
  EXPECT_EQ(r->respond.body, "root");
}

TEST(PrepareResponse, NoContentLengthOn204) {
  auto r = prepare_response(204, {}, "ignored");
  EXPECT_EQ(r.head, "HTTP/1.1 204 No Content\r\n");
  EXPECT_TRUE(r.body.empty());
}

}  // namespace
}  // namespace sluice::route
