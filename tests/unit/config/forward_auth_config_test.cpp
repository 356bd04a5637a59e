// A 'forward_auth' middleware definition (issue 18): the defaults, every
// key read in its units, and every rejected value with its file:line:col
// and reason.
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

using std::chrono::milliseconds;

// A configuration whose middleware 'auth' is forward_auth with `lines`
// (block lines, indented by 6 here).
std::string auth_block(std::string_view lines) {
  std::string body;
  std::size_t start = 0;
  while (start < lines.size()) {
    const auto end = std::min(lines.find('\n', start), lines.size());
    body += "      " + std::string(lines.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "middlewares:\n  auth:\n    forward_auth:\n" +
         body + "routes: [{middlewares: [auth], respond: {status: 200}}]\n";
}

void expect_error(const std::string& yaml, std::string_view at, const std::string& message,
                  std::string_view base_dir = {}) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml", base_dir);
  EXPECT_FALSE(r.ok());
  const auto e = errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

const ForwardAuth& loaded(const LoadResult& r) {
  return r.config->middlewares.at(0).forward_auth;
}

// ------------------------------------------------------------ accepted

TEST(ForwardAuthConfig, AnAddressAloneGivesTheDefaults) {
  const auto r = load_string(auth_block("address: http://auth.internal:9091/verify?x=1"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const ForwardAuth& a = loaded(r);
  EXPECT_FALSE(a.https);
  EXPECT_EQ(a.host, "auth.internal");
  EXPECT_EQ(a.port, 9091);
  EXPECT_EQ(a.path, "/verify?x=1");
  EXPECT_FALSE(a.tls);
  EXPECT_FALSE(a.request_headers);
  EXPECT_TRUE(a.copy_headers.empty());
  EXPECT_EQ(a.timeout, milliseconds(5'000));
  EXPECT_EQ(a.on_error, ForwardAuthOnError::deny);
  EXPECT_EQ(a.max_idle, 32u);
  EXPECT_EQ(a.max_response_body, 64u * 1024);
  EXPECT_EQ(a.forward_body_max, 0u);
  EXPECT_FALSE(a.cache);
}

TEST(ForwardAuthConfig, DefaultPortsAndPathFollowTheScheme) {
  auto r = load_string(auth_block("address: https://auth.example"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(loaded(r).https);
  EXPECT_EQ(loaded(r).port, 443);
  EXPECT_EQ(loaded(r).path, "/");
  ASSERT_TRUE(loaded(r).tls) << "https verifies with the defaults";
  EXPECT_TRUE(loaded(r).tls->verify);
  r = load_string(auth_block("address: 'http://[::1]'"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(loaded(r).host, "::1");
  EXPECT_EQ(loaded(r).port, 80);
}

TEST(ForwardAuthConfig, EveryKeyIsReadInItsUnits) {
  test::TempDir dir;
  dir.write("ca.pem", "not parsed by the loader\n");
  const std::string yaml = auth_block(
      "address: https://127.0.0.1:8443/auth\n"
      "tls: {verify: true, ca: ca.pem, sni: auth.example}\n"
      "request_headers: [Cookie, Authorization]\n"
      "copy_headers: [X-User, 'X-Auth-*']\n"
      "timeout: 750ms\n"
      "on_error: allow\n"
      "max_idle: 4\n"
      "max_response_body: 8KiB\n"
      "cache: {key: [Cookie, $uri], allow_ttl: 1m, deny_ttl: 0s, max_entries: 50}");
  const auto r = load_string(yaml, "f.yaml", dir.path().string());
  ASSERT_TRUE(r.ok()) << dump(r);
  const ForwardAuth& a = loaded(r);
  ASSERT_TRUE(a.tls);
  EXPECT_EQ(a.tls->ca, (dir.path() / "ca.pem").string());
  EXPECT_EQ(a.tls->sni, "auth.example");
  EXPECT_EQ(a.request_headers, (std::vector<std::string>{"Cookie", "Authorization"}));
  EXPECT_EQ(a.copy_headers, (std::vector<std::string>{"X-User", "X-Auth-*"}));
  EXPECT_EQ(a.timeout, milliseconds(750));
  EXPECT_EQ(a.on_error, ForwardAuthOnError::allow);
  EXPECT_EQ(a.max_idle, 4u);
  EXPECT_EQ(a.max_response_body, 8u * 1024);
  ASSERT_TRUE(a.cache);
  EXPECT_EQ(a.cache->key, (std::vector<std::string>{"Cookie", "$uri"}));
  EXPECT_EQ(a.cache->allow_ttl, milliseconds(60'000));
  EXPECT_EQ(a.cache->deny_ttl, milliseconds(0));
  EXPECT_EQ(a.cache->max_entries, 50u);
  EXPECT_NE(r.config->middlewares[0].fingerprint.find("not parsed by the loader"),
            std::string::npos)
      << "a changed CA file is a changed definition";
}

TEST(ForwardAuthConfig, AnEmptyCacheBlockKeysOnCookieAndAuthorization) {
  const auto r = load_string(auth_block("address: http://a:1/\ncache: {}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_TRUE(loaded(r).cache);
  EXPECT_EQ(loaded(r).cache->key, (std::vector<std::string>{"Cookie", "Authorization"}));
  EXPECT_EQ(loaded(r).cache->allow_ttl, milliseconds(30'000));
  EXPECT_EQ(loaded(r).cache->deny_ttl, milliseconds(5'000));
  EXPECT_EQ(loaded(r).cache->max_entries, 10'000u);
}

TEST(ForwardAuthConfig, ForwardBodyTakesItsMaximum) {
  auto r = load_string(auth_block("address: http://a:1/\nforward_body: {max: 1KiB}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(loaded(r).forward_body_max, 1024u);
  r = load_string(auth_block("address: http://a:1/\nforward_body: {}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(loaded(r).forward_body_max, 64u * 1024);
}

// ------------------------------------------------------------ refused

TEST(ForwardAuthConfig, TheAddressIsRequired) {
  const std::string yaml = auth_block("timeout: 1s");
  expect_error(yaml, "timeout: 1s",
               "middleware 'auth': forward_auth: missing required key 'address'");
}

TEST(ForwardAuthConfig, AnAddressThatIsNotAnHttpUrlIsRefused) {
  std::string yaml = auth_block("address: auth:9091");
  expect_error(yaml, "auth:9091",
               "middleware 'auth': forward_auth.address: 'auth:9091': expected "
               "http://host[:port]/path or https://...");
  yaml = auth_block("address: http://auth:99999/");
  expect_error(yaml, "http://auth:99999/",
               "middleware 'auth': forward_auth.address: 'http://auth:99999/': port 99999 is "
               "out of range 1..65535");
  yaml = auth_block("address: http://u:p@auth/");
  expect_error(yaml, "http://u:p@auth/",
               "middleware 'auth': forward_auth.address: 'http://u:p@auth/': user information "
               "in the address is not supported (send credentials another way)");
}

TEST(ForwardAuthConfig, TlsNeedsAnHttpsAddress) {
  const std::string yaml = auth_block("address: http://a:1/\ntls: {verify: false}");
  expect_error(yaml, "{verify: false}",
               "middleware 'auth': forward_auth.tls: the address is http://; use https:// to "
               "speak TLS");
}

TEST(ForwardAuthConfig, AnUnreadableCaFileIsRefused) {
  const std::string yaml = auth_block("address: https://a/\ntls: {ca: /nonexistent/ca.pem}");
  expect_error(yaml, "/nonexistent/ca.pem",
               "middleware 'auth': forward_auth.tls.ca: cannot read /nonexistent/ca.pem");
}

TEST(ForwardAuthConfig, CopyHeadersRefusesFieldsTheProxyStates) {
  std::string yaml = auth_block("address: http://a:1/\ncopy_headers: [X-User, Content-Length]");
  expect_error(yaml, "Content-Length]",
               "middleware 'auth': forward_auth.copy_headers: 'Content-Length' is stated by the "
               "proxy itself (framing, Host, a hop-by-hop or an X-Forwarded- field) and cannot "
               "be copied");
  yaml = auth_block("address: http://a:1/\ncopy_headers: ['*']");
  expect_error(yaml, "'*'",
               "middleware 'auth': forward_auth.copy_headers: '*' would copy every field of the "
               "auth server's answer; name them, or give a prefix such as \"X-Auth-*\"");
  yaml = auth_block("address: http://a:1/\ncopy_headers: ['X User']");
  expect_error(yaml, "'X User'",
               "middleware 'auth': forward_auth.copy_headers: 'X User' is not a valid header "
               "field name (or a prefix ending in '*')");
}

TEST(ForwardAuthConfig, BadValuesAreRefusedWhereTheyAreWritten) {
  std::string yaml = auth_block("address: http://a:1/\non_error: pass");
  expect_error(yaml, "pass",
               "middleware 'auth': forward_auth.on_error: expected deny or allow, got 'pass'");
  yaml = auth_block("address: http://a:1/\ntimeout: 0s");
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok()) << "a zero timeout means nothing here";
  yaml = auth_block("address: http://a:1/\ncache: {key: []}");
  expect_error(yaml, "[]}",
               "middleware 'auth': forward_auth.cache.key: empty: every user would share one "
               "decision; name the fields that tell users apart (Cookie, Authorization)");
  yaml = auth_block("address: http://a:1/\ncache: {key: [$path]}");
  expect_error(yaml, "$path",
               "middleware 'auth': forward_auth.cache.key: '$path' is neither a header field "
               "name nor $method or $uri");
}

TEST(ForwardAuthConfig, TheCacheCannotKeyADecisionMadeOnTheBody) {
  const std::string yaml =
      auth_block("address: http://a:1/\nforward_body: {max: 1KiB}\ncache: {allow_ttl: 1s}");
  expect_error(yaml, "{allow_ttl: 1s}",
               "middleware 'auth': forward_auth.cache: cannot be used with forward_body: the "
               "auth server decides on the body, which the cache key does not hold");
}

}  // namespace
}  // namespace sluice::config
