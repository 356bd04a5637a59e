// What GET /config shows of a configuration's text (config/redact.h):
// credentials written inline are replaced, everything else is kept byte
// for byte, and the result still loads.
#include "config/redact.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace sluice::config {
namespace {

TEST(RedactSecrets, CredentialHeaderValuesAreReplacedInEveryYamlStyle) {
  const std::string text = R"(# a comment: token stays
middlewares:
  upstream-auth:
    headers:
      request:
        set: {Authorization: "Bearer s3cr3t", X-Other: keep}
        add:
          X-Api-Key: plainsecret   # note
          Cookie: 'a=1; b=''x'''
          X-Secret-Note: |
            line one
            line two
          X-Visible: shown
admin: {listen: 127.0.0.1:0, token_file: admin.token}
)";
  std::size_t n = 0;
  const std::string shown = redact_secrets(text, &n);
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(shown, R"(# a comment: token stays
middlewares:
  upstream-auth:
    headers:
      request:
        set: {Authorization: "<redacted>", X-Other: keep}
        add:
          X-Api-Key: "<redacted>"   # note
          Cookie: "<redacted>"
          X-Secret-Note: "<redacted>"
          X-Visible: shown
admin: {listen: 127.0.0.1:0, token_file: admin.token}
)");
}

TEST(RedactSecrets, AConfigurationWithoutSecretsIsUnchanged) {
  const std::string text =
      "listeners: [{name: web, listen: 127.0.0.1:0}]\n"
      "routes:\n  - {name: r, respond: {status: 200, body: token}}\n";
  std::size_t n = 7;
  EXPECT_EQ(redact_secrets(text, &n), text);
  EXPECT_EQ(n, 0u);
}

TEST(RedactSecrets, JsonIsRedactedToo) {
  const std::string text =
      R"({"routes": [{"name": "r", "match": {"headers": {"Authorization": "Basic eDp5"}}}]})";
  EXPECT_EQ(
      redact_secrets(text),
      R"({"routes": [{"name": "r", "match": {"headers": {"Authorization": "<redacted>"}}}]})");
}

TEST(RedactSecrets, TheRedactedTextStillLoads) {
  const std::string text = R"(listeners: [{name: web, listen: 127.0.0.1:0}]
middlewares:
  auth:
    headers:
      request: {set: {Authorization: "Bearer abc"}}
routes:
  - name: r
    middlewares: [auth]
    match: {headers: {X-Api-Token: abc}}
    respond: {status: 200}
)";
  std::size_t n = 0;
  const std::string shown = redact_secrets(text, &n);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(shown.find("abc"), std::string::npos) << shown;
  EXPECT_TRUE(load_string(shown, "shown.yaml").ok());
}

TEST(RedactSecrets, KeysNamingCredentialsButNotFiles) {
  EXPECT_TRUE(is_credential_field("Authorization"));
  EXPECT_TRUE(is_credential_field("proxy-authorization"));
  EXPECT_TRUE(is_credential_field("Set-Cookie"));
  EXPECT_TRUE(is_credential_field("X-Auth-Token"));
  EXPECT_TRUE(names_secret("db_password"));
  EXPECT_TRUE(names_secret("X-API-KEY"));
  EXPECT_FALSE(names_secret("Authorization")) << "only as a header field";
  EXPECT_FALSE(names_secret("token_file"));
  EXPECT_FALSE(names_secret("htpasswd"));
  EXPECT_FALSE(is_credential_field("X-Request-Id"));
}

TEST(RedactSecrets, ASchemaKeyThatIsAlsoAFieldNameIsKept) {
  // The sticky cookie's name is no credential.
  const std::string text = "backends:\n  app:\n    sticky: {cookie: srv}\n    servers: [a:1]\n";
  EXPECT_EQ(redact_secrets(text), text);
}

TEST(RedactSecrets, TextThatDoesNotParseIsReturnedWhole) {
  EXPECT_EQ(redact_secrets("a: [\n"), "a: [\n");
}

}  // namespace
}  // namespace sluice::config
