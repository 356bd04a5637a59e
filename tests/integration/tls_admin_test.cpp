// Certificates changed at run time: one installed through the admin API
// answers for its names at once and lasts until the next reload (the
// files stay the source of truth); with `watch: true` a rewritten
// certificate file is picked up without a signal.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include "integration/sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

// The subject (RFC 2253) of the certificate a listener presents for `sni`.
std::string presented_subject(std::uint16_t port, const std::string& sni) {
  const auto r = run_command(
      {"bash", "-c",
       "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -servername " + sni +
           " </dev/null 2>/dev/null | openssl x509 -noout -subject -nameopt RFC2253"},
      std::chrono::seconds(20));
  std::string out = r.output;
  if (out.starts_with("subject=")) out.erase(0, 8);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

HttpResponse admin_call(const SluiceInstance& s, const std::string& method, const std::string& path,
                        const std::string& body = {}) {
  RawConnection c(s.port("admin"));
  std::string request = method + " " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port("admin")) + "\r\n";
  if (!body.empty() || method == "PUT") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  c.send(request + "\r\n" + body);
  auto r = c.read_response(false, 60'000);
  return r ? *r : HttpResponse{};
}

CertSpec names(std::vector<std::string> dns, std::string common_name = {}) {
  CertSpec spec;
  spec.dns_names = std::move(dns);
  spec.common_name = std::move(common_name);
  return spec;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string config_for(const std::string& cert, const std::string& key, bool watch = false) {
  return std::string(watch ? "watch: true\n" : "") + R"(workers: 2
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
    tls:
      certificates:
        - {cert: )" +
         cert + ", key: " + key + R"(}
  - name: plain
    listen: 127.0.0.1:0
routes:
  - match: {path: /}
    respond: {status: 200, body: "hello\n"}
)";
}

class TlsAdmin : public ::testing::Test {
 protected:
  TempDir dir;
  TestPki pki{dir.path().string()};
  IssuedCert fallback = pki.issue("default", names({"default.example.com"}));
};

TEST_F(TlsAdmin, AnInstalledCertificateAnswersForItsNamesUntilTheNextReload) {
  SluiceInstance sluice(config_for(fallback.cert_path, fallback.key_path));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t web = sluice.port("web");
  ASSERT_EQ(presented_subject(web, "new.example.com"), fallback.subject);

  const IssuedCert added = pki.issue("new", names({"new.example.com"}));
  const auto put = admin_call(sluice, "PUT", "/tls/certificates/web", read_file(added.bundle_path));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_NE(put.body.find("new.example.com"), std::string::npos) << put.body;
  EXPECT_EQ(presented_subject(web, "new.example.com"), added.subject);
  EXPECT_EQ(presented_subject(web, "other.example.com"), fallback.subject);

  const auto listed = admin_call(sluice, "GET", "/tls/certificates");
  ASSERT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find("\"name\": \"web\""), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(added.subject), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find(fallback.subject), std::string::npos) << listed.body;
  EXPECT_EQ(listed.body.find("\"plain\""), std::string::npos) << "a plain listener has none";

  // The file is the truth: a reload forgets what the API installed.
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  EXPECT_EQ(presented_subject(web, "new.example.com"), fallback.subject);
}

TEST_F(TlsAdmin, AReplacementTakesOverTheDefaultsNamesFromTheNextHandshake) {
  SluiceInstance sluice(config_for(fallback.cert_path, fallback.key_path));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const IssuedCert renewed = pki.issue("renewed", names({"default.example.com"}, "renewed"));
  const auto put =
      admin_call(sluice, "PUT", "/tls/certificates/web", read_file(renewed.bundle_path));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(presented_subject(sluice.port("web"), "default.example.com"), renewed.subject);
  // It names the default's host, so clients without SNI get it too.
  EXPECT_EQ(presented_subject(sluice.port("web"), "unknown.example.com"), renewed.subject);
}

TEST_F(TlsAdmin, WhatCannotServeIsRefusedAndChangesNothing) {
  SluiceInstance sluice(config_for(fallback.cert_path, fallback.key_path));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const IssuedCert other = pki.issue("other", names({"x.example.com"}));
  CertSpec old = names({"x.example.com"});
  old.valid_from_days = -30;
  old.valid_days = 10;
  const IssuedCert expired = pki.issue("expired", old);
  // A chain with another certificate's key.
  const std::string mismatched = read_file(other.cert_path) + read_file(fallback.key_path);
  struct Case {
    std::string path;
    std::string body;
    int status;
  };
  const Case cases[] = {
      {"/tls/certificates/web", "not a certificate", 400},
      {"/tls/certificates/web", mismatched, 400},
      {"/tls/certificates/web", read_file(expired.bundle_path), 400},
      {"/tls/certificates/nope", read_file(other.bundle_path), 404},
      {"/tls/certificates/plain", read_file(other.bundle_path), 404},
  };
  for (const auto& c : cases) {
    const auto r = admin_call(sluice, "PUT", c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << ": " << r.body;
  }
  EXPECT_EQ(admin_call(sluice, "GET", "/tls/certificates/web").status, 405);
  EXPECT_EQ(presented_subject(sluice.port("web"), "x.example.com"), fallback.subject);
}

TEST_F(TlsAdmin, WithWatchARewrittenCertificateFileIsServedWithoutASignal) {
  const std::string cert = (dir.path() / "site.crt").string();
  const std::string key = (dir.path() / "site.key").string();
  std::filesystem::copy_file(fallback.cert_path, cert);
  std::filesystem::copy_file(fallback.key_path, key);
  SluiceInstance sluice(config_for(cert, key, /*watch=*/true));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_EQ(presented_subject(sluice.port("web"), "default.example.com"), fallback.subject);

  const IssuedCert renewed = pki.issue("renewed", names({"default.example.com"}, "renewed"));
  // As certbot does: new files renamed into place, the key first.
  std::filesystem::copy_file(renewed.key_path, key + ".new");
  std::filesystem::rename(key + ".new", key);
  std::filesystem::copy_file(renewed.cert_path, cert + ".new");
  std::filesystem::rename(cert + ".new", cert);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  EXPECT_EQ(presented_subject(sluice.port("web"), "default.example.com"), renewed.subject);
}

}  // namespace
}  // namespace sluice::test
