// Internal routes (issue 18, nginx's `internal`): no client request
// matches them, a lower-ranked route still answers those, and only an
// X-Accel-Redirect lookup (RequestView::internal) reaches them.
#include <gtest/gtest.h>

#include "config/loader.h"
#include "route/route_table.h"

namespace sluice::route {
namespace {

std::shared_ptr<const RouteTable> table_of(const char* yaml) {
  const auto r = config::load_string(yaml, "f.yaml");
  EXPECT_TRUE(r.ok());
  return RouteTable::build(*r.config);
}

const char* kConfig = R"(listeners: [{name: web, listen: '127.0.0.1:0'}]
routes:
  - name: vault
    internal: true
    match: {path: /files/}
    respond: {status: 200}
  - name: everything
    match: {path: /}
    respond: {status: 200}
)";

const Route* match(const RouteTable& t, std::string_view path, bool internal) {
  RequestView v;
  v.host = "example.com";
  v.path = path;
  v.method = "GET";
  v.internal = internal;
  return t.match(v);
}

TEST(InternalRoute, AClientRequestNeverMatchesIt) {
  const auto t = table_of(kConfig);
  const Route* r = match(*t, "/files/a", false);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "everything");
}

TEST(InternalRoute, AnAccelRedirectLookupReachesIt) {
  const auto t = table_of(kConfig);
  const Route* r = match(*t, "/files/a", true);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "vault");
  EXPECT_TRUE(r->internal);
}

TEST(InternalRoute, ItShadowsNoRouteClientsCanReach) {
  const auto t = table_of(R"(listeners: [{name: web, listen: '127.0.0.1:0'}]
routes:
  - name: vault
    internal: true
    match: {path: /}
    respond: {status: 200}
  - name: public
    match: {path: /p/}
    respond: {status: 200}
)");
  EXPECT_TRUE(t->shadowed().empty());
}

}  // namespace
}  // namespace sluice::route
