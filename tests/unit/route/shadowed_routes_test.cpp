#include <gtest/gtest.h>

#include "config/loader.h"
#include "config/model.h"
#include "route/route_table.h"

namespace sluice::route {
namespace {

std::vector<std::string> shadowed(const std::string& routes) {
  std::vector<std::string> out;
  auto loaded = config::load_string(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes:\n" + routes, "s.yaml");
  EXPECT_TRUE(loaded.ok());
  if (!loaded.ok()) return {};
  for (auto& f : RouteTable::build(*loaded.config)->shadowed())
    out.push_back(f.message);
  return out;
}

TEST(ShadowedRoutes, AnEarlierBroaderRouteHidesALaterOne) {
  auto w = shadowed(R"(
  - {name: all, priority: 5, match: {path: /}, respond: {status: 200}}
  - {name: api, match: {path: /api/}, respond: {status: 200}}
  - {name: users, match: {path_regex: "^/u/[0-9]+$"}, respond: {status: 200}}
)");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("route 'api' can never match: route 'all'"), std::string::npos) << w[0];
  EXPECT_NE(w[1].find("route 'users'"), std::string::npos) << w[1];
}

TEST(ShadowedRoutes, ConditionsOrMoreSpecificRoutesAreNotReported) {
  auto w = shadowed(R"(
  - {name: all, match: {path: /}, respond: {status: 200}}
  - {name: api, match: {path: /api/}, respond: {status: 200}}
  - {name: exact, match: {path_exact: /api/x}, respond: {status: 200}}
  - {name: host, match: {host: a.example.com, path: /}, respond: {status: 200}}
  - {name: canary, priority: 9, match: {path: /, headers: {X-Env: canary}}, respond: {status: 200}}
  - {name: gets, priority: 8, match: {path: /, methods: [GET]}, respond: {status: 200}}
  - {name: posts, match: {path: /p, methods: [POST]}, respond: {status: 200}}
)");
  EXPECT_TRUE(w.empty()) << w[0];
}

TEST(ShadowedRoutes, SameMethodsUnderAHigherPriorityRouteAreReported) {
  auto w = shadowed(R"(
  - {name: gets, priority: 8, match: {path: /, methods: [GET, HEAD]}, respond: {status: 200}}
  - {name: head-only, match: {path: /x, methods: [HEAD]}, respond: {status: 200}}
  - {name: wild, priority: 7, match: {host: "*.example.com"}, respond: {status: 200}}
  - {name: shop, match: {host: shop.example.com, path: /cart}, respond: {status: 200}}
)");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("'head-only'"), std::string::npos) << w[0] << "\n" << w[1];
  EXPECT_NE(w[1].find("'shop'"), std::string::npos) << w[1];
}

}  // namespace
}  // namespace sluice::route
