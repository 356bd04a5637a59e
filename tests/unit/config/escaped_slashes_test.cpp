// listeners[].escaped_slashes (issue 13): what a path may do with %2F and %5C.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::config {
namespace {

LoadResult load_listener(const std::string& inside) {
  return load_string("listeners:\n  - {name: web, listen: '127.0.0.1:0'" + inside + "}\n",
                     "f.yaml");
}

TEST(EscapedSlashes, RejectedUnlessTheListenerKeepsThem) {
  const auto by_default = load_listener("");
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(by_default.config->listeners[0].escaped_slashes, EscapedSlashes::reject);

  const auto keep = load_listener(", escaped_slashes: keep");
  ASSERT_TRUE(keep.ok());
  EXPECT_TRUE(keep.diagnostics.empty());
  EXPECT_EQ(keep.config->listeners[0].escaped_slashes, EscapedSlashes::keep);

  const auto reject = load_listener(", escaped_slashes: reject");
  ASSERT_TRUE(reject.ok());
  EXPECT_EQ(reject.config->listeners[0].escaped_slashes, EscapedSlashes::reject);
}

TEST(EscapedSlashes, AnotherValueIsAnErrorAtItsPosition) {
  const auto r = load_listener(", escaped_slashes: decode");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].to_string(),
            "f.yaml:2:57: error: listener 'web': escaped_slashes: expected reject or keep, got "
            "'decode'");
  const auto typo = load_listener(", escaped_slashes: kep");
  ASSERT_EQ(typo.diagnostics.size(), 1u);
  EXPECT_EQ(typo.diagnostics[0].message,
            "listener 'web': escaped_slashes: expected reject or keep, got 'kep' (did you mean "
            "'keep'?)");
}

TEST(EscapedSlashes, IgnoredWithAWarningOnATcpListener) {
  const auto r = load_string(
      "listeners:\n  - {name: db, listen: '127.0.0.1:0', protocol: tcp, backend: pg, "
      "escaped_slashes: keep}\nbackends: {pg: {servers: ['127.0.0.1:5432']}}\n",
      "f.yaml");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
  EXPECT_EQ(r.diagnostics[0].message, "listener 'db': escaped_slashes: ignored on a tcp listener");
}

}  // namespace
}  // namespace sluice::config
