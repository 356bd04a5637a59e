// GET /routes/explain's engine (RouteTable::explain): its winner is
// match()'s for every request, each loser is judged by the checks the
// router makes, and the near misses are bounded and closest first.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "http/message.h"
#include "route/route_table.h"

namespace sluice::route {
namespace {

const char* kConfig = R"(listeners:
  - name: web
    listen: 127.0.0.1:0
  - name: other
    listen: 127.0.0.1:0
routes:
  - {name: root, listeners: [web], match: {path: /}, respond: {status: 200}}
  - {name: api, match: {host: api.example.com, path: /v1/}, backend: app}
  - {name: api-any, match: {host: "*.example.com", path: /v1/}, backend: app}
  - {name: deep, match: {host: "*.eu.example.com"}, respond: {status: 200}}
  - {name: exact, match: {path_exact: /health}, respond: {status: 204}}
  - {name: regex, priority: 1, match: {path_regex: "^/u/[0-9]+$"}, respond: {status: 200}}
  - {name: posts, match: {path: /form, methods: [POST]}, respond: {status: 200}}
  - {name: canary, match: {path: /f, headers: {X-Env: canary}}, respond: {status: 200}}
  - {name: versioned, match: {path: /f, headers: {X-V: {regex: "^v[0-9]$"}}}, respond: {status: 200}}
  - {name: beta, match: {path: /s, query: {beta: "1"}}, respond: {status: 200}}
  - {name: flagged, match: {path: /s, query: {flag: {present: true}}}, respond: {status: 200}}
  - {name: hidden, internal: true, match: {path: /int/}, respond: {status: 200}}
  - {name: elsewhere, listeners: [other], match: {path: /v1/}, respond: {status: 200}}
  - {name: urgent, priority: 10, match: {path: /v1/urgent}, respond: {status: 503}}
backends:
  app:
    servers: [127.0.0.1:9]
)";

class RouteExplainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::load_string(kConfig, "routes.yaml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty() ? ""
                                                            : loaded.diagnostics[0].to_string());
    config_ = loaded.config;
    table_ = RouteTable::build(*config_);
  }
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const RouteTable> table_;
};

TEST_F(RouteExplainTest, TheWinnerIsAlwaysMatchsAndNoLoserPassesEveryCheckAboveIt) {
  const std::vector<std::string> hosts = {"api.example.com", "x.example.com", "a.eu.example.com",
                                          "example.com",     "other.org",     ""};
  const std::vector<std::string> paths = {"/",         "/v1/x", "/v1/urgent", "/health",
                                          "/health/x", "/u/12", "/u/x",       "/form",
                                          "/f",        "/s",    "/int/a"};
  const std::vector<std::string> methods = {"GET", "POST"};
  const std::vector<std::vector<http::HeaderField>> field_sets = {
      {}, {{"x-env", "canary"}}, {{"X-V", "v2"}}};
  const std::vector<std::string> queries = {"", "beta=1", "beta=2&flag", "flag="};
  int checked = 0;
  for (std::size_t listener : {0u, 1u}) {
    for (const auto& host : hosts) {
      for (const auto& path : paths) {
        for (const auto& method : methods) {
          for (const auto& fields : field_sets) {
            for (const auto& query : queries) {
              RequestView v;
              v.listener = listener;
              v.host = host;
              v.path = path;
              v.method = method;
              v.fields = fields;
              v.query = query;
              const Explanation e = table_->explain(v, 100);
              SCOPED_TRACE(host + " " + method + " " + path + "?" + query);
              EXPECT_EQ(e.winner, table_->match(v));
              EXPECT_TRUE(e.consistent);
              if (e.winner != nullptr) {
                EXPECT_EQ(table_->judge(*e.winner, v).failures(), 0);
              }
              for (const auto& miss : e.near_misses) {
                if (miss.failures() == 0) {
                  ASSERT_NE(e.winner, nullptr);
                  EXPECT_GT(miss.route->rank, e.winner->rank);
                }
              }
              ++checked;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 2 * 6 * 11 * 2 * 3 * 4);
}

TEST_F(RouteExplainTest, EachLoserIsCountedOnTheFirstCheckItFails) {
  RequestView v;
  v.host = "api.example.com";
  v.path = "/v1/users";
  v.method = "GET";
  const Explanation e = table_->explain(v, 100);
  ASSERT_NE(e.winner, nullptr);
  EXPECT_EQ(e.winner->name, "api");
  EXPECT_EQ(e.considered, 13u) << "every route but the one on listener 'other'";
  EXPECT_EQ(e.lost.host, 1u);  // deep: not under .eu.example.com
  EXPECT_EQ(e.lost.path, 9u);
  EXPECT_EQ(e.lost.outranked, 2u);  // api-any and root match too
  ASSERT_GE(e.near_misses.size(), 2u);
  EXPECT_EQ(e.near_misses[0].route->name, "api-any") << "closest first, then by rank";
  EXPECT_EQ(e.near_misses[1].route->name, "root");
}

TEST_F(RouteExplainTest, AHostMismatchAndAFailedConditionAreNamed) {
  RequestView v;
  v.host = "other.org";
  v.path = "/f";
  v.method = "GET";
  const http::HeaderField wrong[] = {{"X-Env", "prod"}};
  v.fields = wrong;
  const Explanation e = table_->explain(v, 100);
  ASSERT_NE(e.winner, nullptr);
  EXPECT_EQ(e.winner->name, "root");
  const RouteVerdict* canary = nullptr;
  for (const auto& m : e.near_misses) {
    if (m.route->name == "canary") canary = &m;
  }
  ASSERT_NE(canary, nullptr);
  ASSERT_NE(canary->header, nullptr);
  EXPECT_EQ(canary->header->name, "X-Env");
  EXPECT_EQ(canary->failures(), 1);

  v.path = "/v1/x";
  const Explanation api = table_->explain(v, 100);
  for (const auto& m : api.near_misses) {
    if (m.route->name == "api") {
      EXPECT_FALSE(m.host);
      EXPECT_TRUE(m.path);
    }
  }
}

TEST_F(RouteExplainTest, NoRouteIsAnExplanationToo) {
  RequestView v;
  v.listener = 1;
  v.host = "x";
  v.path = "/nothing";
  v.method = "GET";
  const Explanation e = table_->explain(v, 100);
  EXPECT_EQ(e.winner, nullptr);
  EXPECT_EQ(e.considered, 13u) << "every route but 'root', which is on 'web' only";
  EXPECT_EQ(e.lost.host, 3u);  // api, api-any, deep
  EXPECT_EQ(e.lost.path, 10u);
  ASSERT_EQ(e.near_misses.size(), 13u);
  // Those failing one check (urgent, regex, deep, exact, elsewhere) by
  // rank, before those failing two (posts: path and method, ...).
  EXPECT_EQ(e.near_misses[0].route->name, "urgent");
  EXPECT_EQ(e.near_misses[2].route->name, "deep");
  EXPECT_FALSE(e.near_misses[2].host);
  EXPECT_EQ(e.near_misses[4].failures(), 1);
  EXPECT_EQ(e.near_misses[5].failures(), 2);
}

TEST(RouteExplain, FiveThousandRoutesGiveABoundedAnswer) {
  std::string yaml = "listeners: [{name: web, listen: 127.0.0.1:0}]\nroutes:\n";
  for (int i = 0; i < 5000; ++i) {
    yaml += "  - {name: r" + std::to_string(i) + ", match: {host: h" + std::to_string(i) +
            ".example.com, path: /p}, respond: {status: 200}}\n";
  }
  auto loaded = config::load_string(yaml, "big.yaml");
  ASSERT_TRUE(loaded.ok());
  auto table = RouteTable::build(*loaded.config);
  RequestView v;
  v.host = "h4321.example.com";
  v.path = "/p/x";
  v.method = "GET";
  const Explanation e = table->explain(v, 20);
  ASSERT_NE(e.winner, nullptr);
  EXPECT_EQ(e.winner->name, "r4321");
  EXPECT_EQ(e.considered, 5000u);
  EXPECT_EQ(e.lost.host, 4999u);
  EXPECT_EQ(e.near_misses.size(), 20u);
  EXPECT_EQ(e.more, 4979u);
}

}  // namespace
}  // namespace sluice::route
