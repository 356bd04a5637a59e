// The 'middlewares' block and the lists that attach it (docs/config.md,
// "middlewares"): definitions by kind, a route's and a listener's lists,
// and every mistake with its file:line:col.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::config {
namespace {

std::string dump(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.diagnostics)
    s += d.to_string() + "\n";
  return s;
}

constexpr std::string_view kBase = R"(listeners:
  - name: web
    listen: 127.0.0.1:0
    middlewares: [tag]
routes:
  - name: app
    backend: app
    middlewares: [tag, edit]
  - name: bare
    match: {path: /bare}
    backend: app
    middlewares: []
backends:
  app:
    servers: [127.0.0.1:1]
)";

LoadResult load(std::string_view middlewares, std::string_view base = kBase) {
  return load_string(std::string(base) + "middlewares:\n" + std::string(middlewares), "m.yaml", "");
}

TEST(MiddlewaresConfig, DefinitionsAndListsLoad) {
  const auto r = load(
      "  tag:\n    headers: {request: {set: {X-Tag: t}}}\n"
      "  edit:\n    headers:\n      response:\n        remove: [Server]\n        add: {X-A: "
      "\"${route}\"}\n");
  ASSERT_TRUE(r.config) << dump(r);
  const Config& c = *r.config;
  ASSERT_EQ(c.middlewares.size(), 2u);
  EXPECT_EQ(c.middlewares[0].name, "tag");
  EXPECT_EQ(c.middlewares[0].kind, MiddlewareKind::headers);
  ASSERT_EQ(c.middlewares[0].headers.request.set.size(), 1u);
  EXPECT_EQ(c.middlewares[0].headers.request.set[0].second, "t");
  EXPECT_EQ(c.middlewares[1].headers.response.remove, std::vector<std::string>{"Server"});
  EXPECT_EQ(c.listeners[0].middlewares, std::vector<std::string>{"tag"});
  ASSERT_TRUE(c.routes[0].middlewares);
  EXPECT_EQ(*c.routes[0].middlewares, (std::vector<std::string>{"tag", "edit"}));
  ASSERT_TRUE(c.routes[1].middlewares);  // an empty list: none, on purpose
  EXPECT_TRUE(c.routes[1].middlewares->empty());
  EXPECT_NE(c.middlewares[0].fingerprint, c.middlewares[1].fingerprint);
}

TEST(MiddlewaresConfig, AnUnchangedDefinitionHasTheSameFingerprintWhateverItsFormatting) {
  const auto a = load("  tag: {headers: {request: {set: {X-Tag: t}}}}\n  edit: {headers: {}}\n");
  const auto b = load(
      "  edit:\n    headers: {}\n  tag:\n    headers:\n      request:\n        set:\n          "
      "X-Tag: t\n");
  ASSERT_TRUE(a.config) << dump(a);
  ASSERT_TRUE(b.config) << dump(b);
  EXPECT_EQ(a.config->find_middleware("tag")->fingerprint,
            b.config->find_middleware("tag")->fingerprint);
}

TEST(MiddlewaresConfig, AnUnknownKindIsAnErrorWithASuggestion) {
  const auto r = load("  tag:\n    header: {}\n  edit:\n    headers: {}\n");
  EXPECT_FALSE(r.config);
  EXPECT_NE(dump(r).find("m.yaml:18:5: error: middleware 'tag': unknown kind 'header' (did you "
                         "mean 'headers'?)"),
            std::string::npos)
      << dump(r);
}

TEST(MiddlewaresConfig, ADefinitionNamesExactlyOneKind) {
  const auto r = load("  tag:\n    headers: {}\n    compress: {}\n  edit:\n    headers: {}\n");
  EXPECT_FALSE(r.config);
  EXPECT_NE(dump(r).find("m.yaml:18:5: error: middleware 'tag': expected a map with one key"),
            std::string::npos)
      << dump(r);
}

TEST(MiddlewaresConfig, AListNamingAnUndefinedOrRepeatedMiddlewareIsAnError) {
  const auto r = load("  tag:\n    headers: {}\n",
                      R"(listeners:
  - name: web
    listen: 127.0.0.1:0
    middlewares: [gat]
routes:
  - name: app
    backend: app
    middlewares: [tag, tag]
backends:
  app:
    servers: [127.0.0.1:1]
)");
  EXPECT_FALSE(r.config);
  const std::string d = dump(r);
  EXPECT_NE(d.find("m.yaml:4:19: error: listener 'web' refers to middleware 'gat', which is not "
                   "defined"),
            std::string::npos)
      << d;
  EXPECT_NE(d.find("m.yaml:8:24: error: route 'app' names middleware 'tag' twice"),
            std::string::npos)
      << d;
}

TEST(MiddlewaresConfig, ATcpListenerTakesNoMiddlewares) {
  const auto r = load("  tag:\n    headers: {}\n", R"(listeners:
  - name: db
    listen: 127.0.0.1:0
    protocol: tcp
    backend: app
    middlewares: [tag]
backends:
  app:
    servers: [127.0.0.1:1]
)");
  EXPECT_FALSE(r.config);
  EXPECT_NE(dump(r).find("m.yaml:6:18: error: listener 'db': middlewares: middlewares apply to "
                         "http listeners"),
            std::string::npos)
      << dump(r);
}

TEST(MiddlewaresConfig, HeaderValuesWithUnknownVariablesAreErrors) {
  const auto r = load(
      "  tag:\n    headers: {request: {add: {X-A: \"${clientip}\"}}}\n  edit:\n    "
      "headers: {}\n");
  EXPECT_FALSE(r.config);
  EXPECT_NE(dump(r).find("unknown variable \"clientip\""), std::string::npos) << dump(r);
  EXPECT_NE(dump(r).find("m.yaml:18:"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace sluice::config
