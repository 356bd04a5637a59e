// The top-level 'provider' block: what it accepts and each rejected value
// at its file:line:col.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::errors;
using testing::position_of;

std::string with_provider(std::string_view block) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "routes: [{respond: {status: 200}}]\n"
         "provider: " +
         std::string(block) + "\n";
}

void expect_error(const std::string& yaml, std::string_view at, const std::string& message) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml", "/etc/sluice");
  EXPECT_FALSE(r.ok());
  const auto e = errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

TEST(ProviderConfig, WithoutTheBlockThereIsNoProvider) {
  const auto r = load_string(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379]}}")
                                 .substr(0, with_provider("").find("provider")),
                             "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_FALSE(r.config->provider.etcd);
}

TEST(ProviderConfig, EtcdSettingsAreReadWithPathsRelativeToTheFile) {
  const auto r = load_string(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379, "
                                           "'https://etcd.example:2379'], prefix: /fleet/a, "
                                           "tls: {ca: ca.pem, cert: c.pem, key: /k.pem}, "
                                           "certificate_dir: certs}}"),
                             "f.yaml", "/etc/sluice");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_TRUE(r.config->provider.etcd);
  const auto& e = *r.config->provider.etcd;
  EXPECT_EQ(e.endpoints,
            (std::vector<std::string>{"http://127.0.0.1:2379", "https://etcd.example:2379"}));
  EXPECT_EQ(e.prefix, "/fleet/a/");  // the '/' a prefix ends with is added
  ASSERT_TRUE(e.tls);
  EXPECT_EQ(e.tls->ca, "/etc/sluice/ca.pem");
  EXPECT_EQ(e.tls->cert, "/etc/sluice/c.pem");
  EXPECT_EQ(e.tls->key, "/k.pem");
  EXPECT_EQ(e.certificate_dir, "/etc/sluice/certs");
  EXPECT_TRUE(e.username.empty());
}

TEST(ProviderConfig, DefaultsArePrefixSluiceAndVarLibCertificates) {
  const auto r = load_string(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379]}}"),
                             "f.yaml", "/etc/sluice");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->provider.etcd->prefix, "/sluice/");
  EXPECT_EQ(r.config->provider.etcd->certificate_dir, "/var/lib/sluice/certificates");
}

TEST(ProviderConfig, PasswordIsReadFromItsFile) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-provider-config-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "password") << "s3cret\n";
  const auto r = load_string(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379], "
                                           "username: root, password_file: password}}"),
                             "f.yaml", dir.string());
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->provider.etcd->username, "root");
  EXPECT_EQ(r.config->provider.etcd->password, "s3cret");
  std::filesystem::remove_all(dir);
}

TEST(ProviderConfig, AnUnreadablePasswordFileIsAnErrorAtItsValue) {
  expect_error(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379], username: root, "
                             "password_file: /nonexistent/pw}}"),
               "/nonexistent/pw",
               "provider.etcd.password_file: cannot read /nonexistent/pw: No such file or "
               "directory");
}

TEST(ProviderConfig, UsernameWithoutPasswordFileIsAnError) {
  expect_error(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379], username: root}}"),
               "{endpoints",
               "provider.etcd: missing required key 'password_file' (the file holding the "
               "user's password)");
}

TEST(ProviderConfig, EndpointsAreRequired) {
  expect_error(with_provider("{etcd: {prefix: /x/}}"), "{prefix",
               "provider.etcd: missing required key 'endpoints' (etcd's URLs, such as "
               "[http://127.0.0.1:2379])");
}

TEST(ProviderConfig, AnEndpointThatIsNotAnHttpUrlIsAnError) {
  for (const std::string v :
       {"127.0.0.1:2379", "ftp://h:1", "http://h", "http://h:x", "http://h:2379/v3"}) {
    expect_error(with_provider("{etcd: {endpoints: ['" + v + "']}}"), "'" + v,
                 "provider.etcd.endpoints: expected a URL such as http://127.0.0.1:2379 or "
                 "https://etcd.example:2379, got '" +
                     v + "'");
  }
}

TEST(ProviderConfig, NoEndpointAtAllIsAnError) {
  expect_error(with_provider("{etcd: {endpoints: []}}"), "[]",
               "provider.etcd.endpoints: expected at least one endpoint");
}

TEST(ProviderConfig, APrefixNotStartingWithSlashIsAnError) {
  expect_error(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379], prefix: fleet}}"),
               "fleet",
               "provider.etcd.prefix: expected a key prefix starting with '/', got 'fleet'");
}

TEST(ProviderConfig, AClientCertificateWithoutItsKeyIsAnError) {
  expect_error(with_provider("{etcd: {endpoints: [http://127.0.0.1:2379], tls: {cert: c.pem}}}"),
               "{cert", "provider.etcd.tls: a client certificate needs both 'cert' and 'key'");
}

TEST(ProviderConfig, AnUnknownKeyIsAnErrorWithASuggestion) {
  const auto r = load_string(
      with_provider("{etcd: {endpoints: [http://127.0.0.1:2379], prefx: /a/}}"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("prefix"), std::string::npos) << dump(r);
}

TEST(ProviderConfig, AProviderOtherThanEtcdIsAnError) {
  const auto r = load_string(with_provider("{consul: {}}"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("consul"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace sluice::config
