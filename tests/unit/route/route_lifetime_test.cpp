// What a reload relies on from the route table: a request's route outlives
// its table, and a second build reuses the regexes the first compiled.
#include <gtest/gtest.h>

#include <re2/re2.h>

#include "config/loader.h"
#include "config/model.h"
#include "route/route_table.h"

namespace sluice::route {
namespace {

std::shared_ptr<const config::Config> load(const std::string& routes) {
  auto loaded = config::load_string(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes:\n" + routes, "r.yaml");
  EXPECT_TRUE(loaded.ok());
  return loaded.config;
}

const Route* match(const RouteTable& table, std::string_view path) {
  RequestView v;
  v.host = "example.com";
  v.path = path;
  v.method = "GET";
  return table.match(v);
}

TEST(RouteLifetime, APinnedRouteOutlivesItsTable) {
  const std::size_t before = RouteTable::alive();
  auto table = RouteTable::build(*load(R"(
  - {name: users, priority: 1, match: {path_regex: "^/u/([0-9]+)$"}, respond: {status: 200, body: "u"}}
  - {name: rest, match: {path: /}, respond: {status: 404}}
)"));
  EXPECT_EQ(RouteTable::alive(), before + 1);
  const Route* found = match(*table, "/u/42");
  ASSERT_NE(found, nullptr);
  std::shared_ptr<const Route> pinned = table->pin(*found);
  table.reset();
  EXPECT_EQ(RouteTable::alive(), before) << "the table is gone";
  EXPECT_EQ(pinned->name, "users") << "the route a request holds is not";
  EXPECT_EQ(pinned->respond().body, "u");
  ASSERT_NE(pinned->path_regex, nullptr);
  EXPECT_TRUE(re2::RE2::FullMatch("/u/7", *pinned->path_regex));
}

TEST(RouteLifetime, ARebuildReusesCompiledRegexesAndDropsUnusedOnes) {
  RegexCache cache;
  const std::string users =
      R"(  - {name: users, match: {path_regex: "^/u/([0-9]+)$"}, respond: {status: 200}}
)";
  auto first = RouteTable::build(
      *load(users + R"(  - {name: old, match: {path_regex: "^/old/.*$"}, respond: {status: 200}}
)"),
      nullptr, &cache);
  auto second = RouteTable::build(
      *load(users + R"(  - {name: new, match: {path_regex: "^/new/.*$"}, respond: {status: 200}}
)"),
      nullptr, &cache);
  const Route* a = match(*first, "/u/1");
  const Route* b = match(*second, "/u/1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->path_regex.get(), b->path_regex.get()) << "compiled once, shared";
  ASSERT_NE(match(*second, "/new/x"), nullptr);
  const std::size_t with_both = cache.compiled();
  first.reset();
  cache.forget_unused();
  EXPECT_LT(cache.compiled(), with_both) << "patterns only the old table used are dropped";
  EXPECT_EQ(match(*second, "/old/x"), nullptr);
  EXPECT_NE(match(*second, "/u/9"), nullptr);
}

}  // namespace
}  // namespace sluice::route
