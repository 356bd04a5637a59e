#include "route/path_normalizer.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::route {
namespace {

// A path in, and either the path routed and forwarded or why it is refused.
struct Case {
  const char* in;
  const char* out;  // nullptr when refused
  PathError error = PathError::none;
};

void check(const Case& c, PathOptions options = {}) {
  std::string out;
  const PathError e = normalize_path(c.in, out, options);
  if (c.out == nullptr) {
    EXPECT_EQ(e, c.error) << c.in << " gave " << out;
  } else {
    ASSERT_EQ(e, PathError::none) << c.in << ": " << describe(e);
    EXPECT_EQ(out, c.out) << c.in;
  }
}

TEST(PathNormalizer, OneSpellingPerPath) {
  const Case cases[] = {
      {"/", "/"},
      {"/admin", "/admin"},
      {"/%61dmin", "/admin"},  // unreserved escapes are decoded
      {"/%7Euser", "/~user"},
      {"/a%3bb", "/a%3Bb"},  // a reserved escape stays, hex upper-cased
      {"/a%20b", "/a%20b"},
      {"/caf%c3%a9", "/caf%C3%A9"},
      {"//admin", "/admin"},  // slashes merged
      {"/a///b", "/a/b"},
      {"/./admin", "/admin"},  // dot segments removed
      {"/x/../admin", "/admin"},
      {"/x/y/../../admin", "/admin"},
      {"/x/%2e%2e/admin", "/admin"},  // decoded dots are dots
      {"/a/%2E/b", "/a/b"},
      {"/a/.%2e/b", "/b"},
      {"/a/", "/a/"},  // a directory keeps its slash
      {"/a/.", "/a/"},
      {"/a/b/..", "/a/"},
      {"/a/..", "/"},
      {"/a.b/c..d/...", "/a.b/c..d/..."},  // only whole "." and ".." segments
  };
  for (const auto& c : cases)
    check(c);
}

// Issue 13: a deny route on /admin and a catch-all route to a backend; each
// spelling below is routed as the path on the right and the backend gets
// exactly that path, or the request is refused. None reaches a backend as
// "/admin..." or with a ".." in it.
TEST(PathNormalizer, BypassSpellingsAreRoutedAsForwardedOrRefused) {
  const Case cases[] = {
      {"/admin/..", "/"},
      {"/admin/%2e%2e", "/"},
      {"/admin/%2E%2E/", "/"},
      {"/admin/..;/x", nullptr, PathError::dot_parameter},  // Tomcat: /admin/../x
      {"/x/..;/admin", nullptr, PathError::dot_parameter},  // Tomcat: /admin
      {"/x/.;/admin", nullptr, PathError::dot_parameter},
      {"/x/%2e%2e;a=1/admin", nullptr, PathError::dot_parameter},
      {"/admin;/x", "/admin;/x"},            // ';' is an ordinary character: still under /admin
      {"/x/..%3B/admin", "/x/..%3B/admin"},  // an encoded ';' is no parameter
      {"/%61dmin", "/admin"},
      {"/ADMIN", "/ADMIN"},  // case is kept: routes are case-sensitive
      {"/%41DMIN", "/ADMIN"},
      {"/admin%2Fx", nullptr, PathError::escaped_slash},
      {"/admin%2fx", nullptr, PathError::escaped_slash},
      {"/x/..%2Fadmin", nullptr, PathError::escaped_slash},
      {"/admin%5Cx", nullptr, PathError::escaped_slash},
      {"/admin\\x", nullptr, PathError::backslash},
      {"/x\\..\\admin", nullptr, PathError::backslash},
      {"//admin", "/admin"},
      {"/./admin", "/admin"},
      {"/a/../../admin", nullptr, PathError::above_root},
      {"/..", nullptr, PathError::above_root},
      {"/%2e%2e/admin", nullptr, PathError::above_root},
      {"/admin%00", nullptr, PathError::control},
      {"/admin%00/../x", nullptr, PathError::control},
      {"/a%0ab", nullptr, PathError::control},
      {"/a%7Fb", nullptr, PathError::control},
      {"/a\tb", nullptr, PathError::control},
      {"/x#/../admin", nullptr, PathError::fragment},
  };
  for (const auto& c : cases)
    check(c);
}

TEST(PathNormalizer, KeptEscapedSlashesStayEncodedAndNeverSeparate) {
  const PathOptions keep{.keep_escaped_slashes = true};
  const Case cases[] = {
      {"/admin%2fx", "/admin%2Fx"},
      {"/admin%5cx", "/admin%5Cx"},
      {"/a/..%2F..%2Fb", "/a/..%2F..%2Fb"},  // one segment, not dots
      {"/x/..%2f", "/x/..%2F"},
      {"/admin\\x", nullptr, PathError::backslash},  // a raw one still is refused
  };
  for (const auto& c : cases)
    check(c, keep);
}

TEST(PathNormalizer, DotSegmentsAreRefusedWhenAsked) {
  const PathOptions strict{.reject_dot_segments = true};
  const Case cases[] = {
      {"/v1/users", "/v1/users"},
      {"/v1//users", "/v1/users"},
      {"/v1/../admin", nullptr, PathError::dot_segment},
      {"/../admin", nullptr, PathError::dot_segment},
      {"/v1/./x", nullptr, PathError::dot_segment},
      {"/v1/%2E%2E", nullptr, PathError::dot_segment},
  };
  for (const auto& c : cases)
    check(c, strict);
}

TEST(PathNormalizer, MalformedEscapesAreRefused) {
  std::string out;
  for (const char* bad : {"/%", "/%4", "/%zz", "/a%g1", "/%%41"}) {
    EXPECT_EQ(normalize_path(bad, out), PathError::bad_escape) << bad;
  }
}

TEST(PathNormalizer, NormalFormIsAFixedPoint) {
  for (const char* in : {"/%61/../b//c/./%3b", "/x/%2E%2E/%2e/y/", "/a%25b", "/a;b/c%20"}) {
    std::string once, twice;
    ASSERT_EQ(normalize_path(in, once), PathError::none) << in;
    ASSERT_EQ(normalize_path(once, twice), PathError::none) << once;
    EXPECT_EQ(once, twice) << in;
  }
}

// The quick look that spares most requests a copy: yes only where
// normalising changes nothing; every spelling that normalises differently,
// or is refused, gets a no (and the full normalisation).
TEST(PathNormalizer, TheQuickLookSaysNormalOnlyWhereNormalisingChangesNothing) {
  for (const char* in : {"/", "/a", "/a/", "/api/v1/users/42", "/a.b/c-d_e~f", "/a;b=c/d:e@f",
                         "/.well-known/x", "/a..b/...", "/x/.a/"}) {
    std::string out;
    EXPECT_TRUE(is_normal_path(in)) << in;
    ASSERT_EQ(normalize_path(in, out), PathError::none) << in;
    EXPECT_EQ(out, in);
  }
  for (const char* in : {"", "a", "//", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/..",
                         "/x/..;/admin", "/x/.;/admin", "/%61", "/a%2Fb", "/a\\b", "/a#b", "/a b",
                         "/a\x7f", "/caf\xc3\xa9", "/a?b"}) {
    EXPECT_FALSE(is_normal_path(in)) << in;
  }
}

}  // namespace
}  // namespace sluice::route
