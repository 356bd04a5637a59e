// The 'access' middleware's settings (issue 18): every key read as written,
// the htpasswd file read at load (its content in the fingerprint), and
// every refused value with its file:line:col and reason.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"
#include "support/temp_dir.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::errors;
using testing::position_of;

// A configuration whose middleware 'gate' is `access: <settings>` (a flow
// map, on one line).
std::string with_access(std::string_view settings) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "middlewares:\n  gate:\n    access: " +
         std::string(settings) +
         "\n"
         "routes: [{middlewares: [gate], respond: {status: 200}}]\n";
}

const Access& access_of(const LoadResult& r) {
  return r.config->middlewares.at(0).access;
}

// Exactly one error, at the start of `at` in `yaml`, saying `message`.
void expect_error(const std::string& yaml, std::string_view at, const std::string& message,
                  std::string_view base_dir = {}) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml", base_dir);
  EXPECT_FALSE(r.ok());
  const auto e = errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->file, "f.yaml");
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

constexpr std::string_view kBcrypt = "$2y$04$HnYPTh70E7d0RwZd2W4TZ.aISSgzPD5hwpzvDJ9yKVUxOamd7ucsq";
constexpr std::string_view kSha512 =
    "$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/"
    "TFug6pIPSqbJoCT6dfnj.";
constexpr std::string_view kSha256 =
    "$5$rounds=6000$abc$hzrSCW5v7voPgQ.tX/hn5IklZAdaK45cfNwoEEPGhA5";

// ------------------------------------------------------------ accepted

TEST(AccessConfig, NetworksAndBodyLimitAreReadAsWritten) {
  const auto r = load_string(
      with_access("{allow: [10.0.0.0/8, '2001:db8::/32'], deny: [10.9.0.0/16, 192.0.2.7], "
                  "trusted_proxies: [127.0.0.1], max_body_size: 1MiB}"),
      "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Access& a = access_of(r);
  EXPECT_EQ(a.allow, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(a.deny, (std::vector<std::string>{"10.9.0.0/16", "192.0.2.7"}));
  EXPECT_EQ(a.trusted_proxies, (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(a.max_body_bytes, 1024u * 1024);
  EXPECT_FALSE(a.basic_auth);
}

TEST(AccessConfig, HtpasswdIsReadRelativeToTheConfigurationWithCommentsAndCrlf) {
  test::TempDir dir;
  dir.write("users", "# the team\r\nalice:" + std::string(kBcrypt) +
                         "\r\n\nbob:" + std::string(kSha512) + "\ncarol:" + std::string(kSha256));
  const auto r = load_string(with_access("{basic_auth: {htpasswd: users, realm: Staff \"area\", "
                                         "strip_authorization: true}}"),
                             "f.yaml", dir.path().string());
  ASSERT_TRUE(r.ok()) << dump(r);
  const Access& a = access_of(r);
  ASSERT_TRUE(a.basic_auth);
  EXPECT_EQ(a.basic_auth->htpasswd, "users");
  EXPECT_EQ(a.basic_auth->realm, "Staff \"area\"");
  EXPECT_TRUE(a.basic_auth->strip_authorization);
  ASSERT_EQ(a.basic_auth->users.size(), 3u);
  EXPECT_EQ(a.basic_auth->users[0].name, "alice");
  EXPECT_EQ(a.basic_auth->users[0].hash, kBcrypt);
  EXPECT_EQ(a.basic_auth->users[1].name, "bob");
  EXPECT_EQ(a.basic_auth->users[1].hash, kSha512);
  EXPECT_EQ(a.basic_auth->users[2].hash, kSha256);
}

TEST(AccessConfig, BasicAuthDefaultsToRealmSluiceAndKeepsAuthorization) {
  test::TempDir dir;
  dir.write("users", "alice:" + std::string(kBcrypt) + "\n");
  const auto r =
      load_string(with_access("{basic_auth: {htpasswd: users}}"), "f.yaml", dir.path().string());
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(access_of(r).basic_auth->realm, "sluice");
  EXPECT_FALSE(access_of(r).basic_auth->strip_authorization);
}

// A reload rebuilds a middleware whose fingerprint changed: an edited
// htpasswd file under the same definition text must change it.
TEST(AccessConfig, TheHtpasswdContentIsInTheFingerprint) {
  test::TempDir dir;
  const std::string yaml = with_access("{basic_auth: {htpasswd: users}}");
  dir.write("users", "alice:" + std::string(kBcrypt) + "\n");
  const auto before = load_string(yaml, "f.yaml", dir.path().string());
  dir.write("users", "alice:" + std::string(kSha512) + "\n");
  const auto after = load_string(yaml, "f.yaml", dir.path().string());
  ASSERT_TRUE(before.ok() && after.ok()) << dump(before) << dump(after);
  EXPECT_NE(before.config->middlewares[0].fingerprint, after.config->middlewares[0].fingerprint);
  const auto again = load_string(yaml, "f.yaml", dir.path().string());
  EXPECT_EQ(after.config->middlewares[0].fingerprint, again.config->middlewares[0].fingerprint);
}

TEST(AccessConfig, TrustedProxiesAloneWarnThatTheyDoNothing) {
  const auto r =
      load_string(with_access("{trusted_proxies: [10.0.0.0/8], max_body_size: 1KiB}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
  EXPECT_EQ(r.diagnostics[0].message,
            "middleware 'gate': access.trusted_proxies: has no effect without 'allow' or 'deny'");
}

// ------------------------------------------------------------ refused

TEST(AccessConfig, RefusesWhatIsNotANetwork) {
  const std::string yaml = with_access("{deny: [10.0.0.0/8, 10.0.0.0/33]}");
  expect_error(yaml, "10.0.0.0/33",
               "middleware 'gate': access.deny: expected a network such as 10.0.0.0/8, "
               "2001:db8::/32 or an address, got '10.0.0.0/33'");
  expect_error(with_access("{allow: [example.com]}"), "example.com",
               "middleware 'gate': access.allow: expected a network such as 10.0.0.0/8, "
               "2001:db8::/32 or an address, got 'example.com'");
  expect_error(with_access("{allow: [10.0.0.0/8], trusted_proxies: ['::1/200']}"), "'::1/200'",
               "middleware 'gate': access.trusted_proxies: expected a network such as "
               "10.0.0.0/8, 2001:db8::/32 or an address, got '::1/200'");
}

TEST(AccessConfig, RefusesAnEmptyAllowListThatWouldShutEveryoneOut) {
  expect_error(with_access("{allow: []}"), "[]}",
               "middleware 'gate': access.allow: an empty list would refuse every client; leave "
               "'allow' out to let every client not denied through");
}

TEST(AccessConfig, RefusesADefinitionThatChecksNothing) {
  expect_error(with_access("{}"), "{}",
               "middleware 'gate': access: checks nothing; give at least one of allow, deny, "
               "basic_auth, max_body_size");
}

TEST(AccessConfig, RefusesUnknownKeysAndAZeroBodyLimit) {
  expect_error(with_access("{max_body_size: 0}"), "0}",
               "middleware 'gate': access.max_body_size: must be at least 1 byte; leave it out "
               "for no limit");
  const auto r = load_string(with_access("{alow: [10.0.0.0/8]}"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("unknown key 'alow'"), std::string::npos) << dump(r);
}

TEST(AccessConfig, RefusesAMissingOrUnreadableHtpasswd) {
  test::TempDir dir;
  expect_error(with_access("{basic_auth: {realm: x}}"), "{realm",
               "middleware 'gate': access.basic_auth: missing required key 'htpasswd'");
  const std::string yaml = with_access("{basic_auth: {htpasswd: nothing-here}}");
  expect_error(yaml, "nothing-here",
               "middleware 'gate': access.basic_auth.htpasswd: cannot read " + dir.path().string() +
                   "/nothing-here: No such file or directory",
               dir.path().string());
  dir.write("empty", "# nobody yet\n\n");
  expect_error(with_access("{basic_auth: {htpasswd: empty}}"), "empty}",
               "middleware 'gate': access.basic_auth.htpasswd: " + dir.path().string() +
                   "/empty holds no users",
               dir.path().string());
}

// Hashes that are fast to brute-force are refused at load, naming the
// file's line, rather than checked at run time.
TEST(AccessConfig, RefusesWeakHashSchemesNamingTheLineOfTheFile) {
  test::TempDir dir;
  const std::string yaml = with_access("{basic_auth: {htpasswd: users}}");
  const std::string path = dir.path().string() + "/users";
  const std::string good = "alice:" + std::string(kBcrypt) + "\n";
  const std::string advice =
      "; make bcrypt hashes with `htpasswd -B` or SHA-512 crypt ones with `openssl passwd -6`";
  struct Case {
    std::string line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"bob:$apr1$9Cv/OMGj$ZomDDZbbb0kLiCStLRQXq/", "an MD5 hash ($apr1$), which is not accepted"},
      {"bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "a SHA-1 hash ({SHA}), which is not accepted"},
      {"bob:$1$abc$IOmh5Tc8Zr4wgvIvLoS1R0", "an MD5-crypt hash ($1$), which is not accepted"},
      {"bob:secret", "not a hash sluice accepts (a plain-text password?)"},
      {"bob:abJnggxhB/yWI", "a DES crypt hash, which is not accepted"},
      {"bob:$2y$04$short", "a malformed bcrypt hash"},
      {"bob:$6$salt$short", "a malformed SHA-crypt hash"},
  };
  for (const auto& c : cases) {
    dir.write("users", good + "# a comment\n" + c.line + "\n");
    expect_error(yaml, "users}",
                 "middleware 'gate': access.basic_auth.htpasswd: " + path +
                     " line 3: user 'bob' has " + c.says + advice,
                 dir.path().string());
  }
  dir.write("users", good + "alice:" + std::string(kSha512) + "\n");
  expect_error(yaml, "users}",
               "middleware 'gate': access.basic_auth.htpasswd: " + path +
                   " line 2: user 'alice' appears twice",
               dir.path().string());
  dir.write("users", good + "no colon here\n");
  expect_error(
      yaml, "users}",
      "middleware 'gate': access.basic_auth.htpasswd: " + path + " line 2: expected user:hash",
      dir.path().string());
}

TEST(AccessConfig, RefusesARealmWithControlCharacters) {
  test::TempDir dir;
  dir.write("users", "alice:" + std::string(kBcrypt) + "\n");
  expect_error(with_access("{basic_auth: {htpasswd: users, realm: \"a\\nb\"}}"), "\"a\\nb\"",
               "middleware 'gate': access.basic_auth.realm: expected a non-empty name without "
               "control characters, got 'a\\x0ab'",
               dir.path().string());
}

}  // namespace
}  // namespace sluice::config
