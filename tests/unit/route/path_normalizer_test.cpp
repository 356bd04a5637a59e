#include "route/path_normalizer.h"

#include <gtest/gtest.h>

namespace sluice::route {
namespace {

struct Case {
  const char* in;
  const char* out;
};

TEST(PathNormalizer, OneSpellingPerPath) {
  const Case cases[] = {
      {"/", "/"},
      {"/admin", "/admin"},
      {"/%61dmin", "/admin"},  // unreserved escapes are decoded
      {"/%7Euser", "/~user"},
      {"/a%2fb", "/a%2Fb"},  // a reserved escape stays, hex upper-cased
      {"/a%20b", "/a%20b"},
      {"//admin", "/admin"},  // slashes merged
      {"/a///b", "/a/b"},
      {"/./admin", "/admin"},  // dot segments removed
      {"/x/../admin", "/admin"},
      {"/x/y/../../admin", "/admin"},
      {"/../admin", "/admin"},  // never above the root
      {"/../../..", "/"},
      {"/%2e%2e/admin", "/admin"},  // decoded dots are dots
      {"/a/%2E/b", "/a/b"},
      {"/a/", "/a/"},  // a directory keeps its slash
      {"/a/.", "/a/"},
      {"/a/b/..", "/a/"},
      {"/a/..", "/"},
      {"/a.b/c..d/...", "/a.b/c..d/..."},  // only whole "." and ".." segments
  };
  for (const auto& c : cases) {
    std::string out;
    ASSERT_TRUE(normalize_path(c.in, out)) << c.in;
    EXPECT_EQ(out, c.out) << c.in;
  }
}

TEST(PathNormalizer, MalformedEscapesAreRefused) {
  std::string out;
  for (const char* bad : {"/%", "/%4", "/%zz", "/a%g1", "/%%41"}) {
    EXPECT_FALSE(normalize_path(bad, out)) << bad;
  }
}

TEST(PathNormalizer, NormalFormIsAFixedPoint) {
  for (const char* in : {"/%61/../b//c/./%2f", "/x/%2E%2E/%2e/y/", "/a%25b"}) {
    std::string once, twice;
    ASSERT_TRUE(normalize_path(in, once));
    ASSERT_TRUE(normalize_path(once, twice));
    EXPECT_EQ(once, twice) << in;
  }
}

}  // namespace
}  // namespace sluice::route
