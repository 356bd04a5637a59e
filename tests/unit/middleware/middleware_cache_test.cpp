// A reload keeps a middleware object (and its state) exactly when its
// definition is unchanged: same name, same fingerprint, same worker count.
#include <gtest/gtest.h>

#include "config/model.h"
#include "middleware/middleware_set.h"

namespace sluice::middleware {
namespace {

config::Middleware headers(std::string name, std::string fingerprint) {
  config::Middleware m;
  m.name = std::move(name);
  m.kind = config::MiddlewareKind::headers;
  m.fingerprint = std::move(fingerprint);
  return m;
}

TEST(MiddlewareCache, AnUnchangedDefinitionGetsTheSameObjectBack) {
  MiddlewareCache cache;
  std::vector<std::string> errors;
  const std::vector<config::Middleware> defs{headers("a", "{x: 1}"), headers("b", "{y: 2}")};
  const auto first = cache.build(defs, BuildContext{2}, errors);
  const auto again = cache.build(defs, BuildContext{2}, errors);
  ASSERT_TRUE(errors.empty());
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], again[0]);
  EXPECT_EQ(first[1], again[1]);
}

TEST(MiddlewareCache, AChangedDefinitionOrWorkerCountGetsANewObject) {
  MiddlewareCache cache;
  std::vector<std::string> errors;
  const auto first = cache.build({headers("a", "{x: 1}")}, BuildContext{2}, errors);
  const auto changed = cache.build({headers("a", "{x: 2}")}, BuildContext{2}, errors);
  const auto renamed = cache.build({headers("c", "{x: 1}")}, BuildContext{2}, errors);
  const auto more_workers = cache.build({headers("a", "{x: 1}")}, BuildContext{4}, errors);
  EXPECT_NE(first[0], changed[0]);
  EXPECT_NE(first[0], renamed[0]);
  EXPECT_NE(first[0], more_workers[0]);
}

TEST(MiddlewareCache, ItNeverKeepsAMiddlewareAliveOnItsOwn) {
  MiddlewareCache cache;
  std::vector<std::string> errors;
  std::weak_ptr<Middleware> weak;
  {
    const auto built = cache.build({headers("a", "{x: 1}")}, BuildContext{1}, errors);
    weak = built[0];
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(cache.kept(), 1u);
  cache.forget_unused();
  EXPECT_EQ(cache.kept(), 0u);
  // Built again from scratch: a fresh object.
  const auto rebuilt = cache.build({headers("a", "{x: 1}")}, BuildContext{1}, errors);
  EXPECT_NE(rebuilt[0], nullptr);
}

}  // namespace
}  // namespace sluice::middleware
