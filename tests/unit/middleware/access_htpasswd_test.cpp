// Basic authentication for the access middleware: credentials read from an
// Authorization value (RFC 7617), passwords checked against bcrypt and
// SHA-crypt hashes, and passed credentials remembered so a client pays
// for the slow hash once.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "middleware/htpasswd.h"

namespace sluice::middleware {
namespace {

// Made with `htpasswd -nbB -C 4 alice 'open sesame'`, `openssl passwd -6
// -salt saltsalt hunter2` and `openssl passwd -5 -salt abc pw5`.
const std::vector<config::HtpasswdUser> kUsers = {
    {"alice", "$2y$04$HnYPTh70E7d0RwZd2W4TZ.aISSgzPD5hwpzvDJ9yKVUxOamd7ucsq"},
    {"bob",
     "$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/"
     "TFug6pIPSqbJoCT6dfnj."},
    {"carol", "$5$abc$hzrSCW5v7voPgQ.tX/hn5IklZAdaK45cfNwoEEPGhA5"},
};

TEST(BasicCredentials, ReadsUserAndPasswordSplitAtTheFirstColon) {
  std::string user;
  std::string password;
  // "alice:open:sesame"
  ASSERT_TRUE(parse_basic_credentials("Basic YWxpY2U6b3BlbjpzZXNhbWU=", user, password));
  EXPECT_EQ(user, "alice");
  EXPECT_EQ(password, "open:sesame");
  // The scheme is case-insensitive; padding may be left out.
  ASSERT_TRUE(parse_basic_credentials("bAsIc YWxpY2U6b3BlbjpzZXNhbWU", user, password));
  EXPECT_EQ(password, "open:sesame");
  // "bob:" : an empty password is still a password.
  ASSERT_TRUE(parse_basic_credentials("Basic Ym9iOg==", user, password));
  EXPECT_EQ(user, "bob");
  EXPECT_EQ(password, "");
}

TEST(BasicCredentials, RefusesOtherSchemesAndBadBase64) {
  std::string user;
  std::string password;
  for (const char* bad : {"Bearer YWxpY2U6eA==", "Basic", "Basic ", "BasicYWxpY2U6eA==",
                          "Basic YWxpY2U6eA=!", "Basic YWxpY2U",  // "alice": no colon
                          "Basic Y"}) {
    EXPECT_FALSE(parse_basic_credentials(bad, user, password)) << bad;
  }
}

TEST(PasswordFile, AcceptsTheRightPasswordForEachScheme) {
  PasswordFile f(kUsers, 16);
  EXPECT_TRUE(f.check("alice", "open sesame"));
  EXPECT_TRUE(f.check("bob", "hunter2"));
  EXPECT_TRUE(f.check("carol", "pw5"));
}

TEST(PasswordFile, RefusesWrongPasswordsUnknownUsersAndAnotherUsersPassword) {
  PasswordFile f(kUsers, 16);
  EXPECT_FALSE(f.check("alice", "open sesame "));
  EXPECT_FALSE(f.check("alice", ""));
  EXPECT_FALSE(f.check("bob", "hunter3"));
  EXPECT_FALSE(f.check("mallory", "open sesame"));
  EXPECT_FALSE(f.check("bob", "open sesame"));
  EXPECT_FALSE(f.check("alice", std::string("open sesame\0x", 13)));
}

TEST(PasswordFile, PassedCredentialsAreCheckedSlowlyOnce) {
  PasswordFile f(kUsers, 16);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(f.check("alice", "open sesame"));
  EXPECT_EQ(f.slow_checks(), 1u);
  // A remembered pass is no pass for another password or user.
  EXPECT_FALSE(f.check("alice", "open sesam"));
  EXPECT_FALSE(f.check("alicE", "open sesame"));
  EXPECT_EQ(f.slow_checks(), 3u);
}

TEST(PasswordFile, WrongPasswordsAreCheckedEveryTime) {
  PasswordFile f(kUsers, 16);
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(f.check("alice", "guess"));
  EXPECT_EQ(f.slow_checks(), 3u);
}

TEST(PasswordFile, TheCacheIsBoundedAndForgetsTheLeastRecentlyUsed) {
  PasswordFile f(kUsers, 2);
  EXPECT_TRUE(f.check("alice", "open sesame"));
  EXPECT_TRUE(f.check("bob", "hunter2"));
  EXPECT_TRUE(f.check("alice", "open sesame"));  // alice is now the most recent
  EXPECT_EQ(f.slow_checks(), 2u);
  EXPECT_TRUE(f.check("carol", "pw5"));  // bob goes
  EXPECT_EQ(f.slow_checks(), 3u);
  EXPECT_TRUE(f.check("alice", "open sesame"));
  EXPECT_EQ(f.slow_checks(), 3u);
  EXPECT_TRUE(f.check("bob", "hunter2"));
  EXPECT_EQ(f.slow_checks(), 4u);
}

}  // namespace
}  // namespace sluice::middleware
