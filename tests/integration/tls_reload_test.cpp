// Certificates changed by a reload (issue 16): connections opened before it
// carry on, new ones get the new certificate, a removed certificate is
// never offered again, and a broken one is refused with its file, line and
// column while the old one stays in service. Clients are `openssl
// s_client`; a long-lived one reads its requests from a FIFO, so the test
// can send one before and one after the reload on the same connection.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_pki.h"
#include "tls_clients.h"

namespace sluice::test {
namespace {

std::string entry(const IssuedCert& c) {
  return "        - {cert: " + c.cert_path + ", key: " + c.key_path + "}\n";
}

CertSpec named(const std::string& dns, const std::string& cn) {
  CertSpec s;
  s.dns_names = {dns};
  s.common_name = cn;
  return s;
}

// Every request is answered 200 with `body`, so a response tells which
// configuration served it.
std::string config(const std::string& certificates, const std::string& body = "body-v1") {
  return "workers: 2\n"
         "admin: {listen: 127.0.0.1:0}\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "    tls:\n"
         "      certificates:\n" +
         certificates +
         "routes:\n"
         "  - name: ok\n"
         "    respond: {status: 200, body: " +
         body + "}\n";
}

// 1-based line of the first line of `text` holding `needle`.
int line_of(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

// A keep-alive request on the long-lived client.
std::string keep_alive_get() {
  return "GET /again HTTP/1.1\r\nHost: site.example.com\r\n\r\n";
}

class TlsReload : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(dir_.path().string());
    fallback_ = pki_->issue("fallback", named("fallback.example.net", "fallback"));
    site_v1_ = pki_->issue("site", named("site.example.com", "site v1"));
    extra_ = pki_->issue("extra", named("extra.example.com", "extra"));
    yaml_ = config(entry(fallback_) + entry(site_v1_) + entry(extra_));
    sluice_ = std::make_unique<SluiceInstance>(yaml_);
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
    port_ = sluice_->port("web");
  }
  void write_config(const std::string& yaml) {
    yaml_ = yaml;
    std::ofstream(sluice_->config_path(), std::ios::trunc) << yaml;
  }
  // SIGHUP and wait for the outcome: the n-th "reload: applied" or the n-th
  // refusal.
  bool sighup_applied() {
    ::kill(sluice_->process().pid(), SIGHUP);
    ++reloads_;
    return sluice_->process().wait_for_count("reload: applied", reloads_, std::chrono::seconds(20));
  }
  // Opens a connection for site.example.com that stays open, and gets one
  // 200 on it.
  void open_long_lived() {
    stdin_ = std::make_unique<StdinPipe>(dir_.path().string() + "/stdin.fifo");
    held_ = long_lived_s_client(port_, "site.example.com", *stdin_);
    ASSERT_TRUE(stdin_->write(keep_alive_get()));
    ASSERT_TRUE(held_->wait_for_count("HTTP/1.1 200", 1, std::chrono::seconds(20)))
        << held_->output();
  }

  TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  IssuedCert fallback_, site_v1_, extra_;
  std::string yaml_;
  std::unique_ptr<SluiceInstance> sluice_;
  std::uint16_t port_ = 0;
  std::size_t reloads_ = 0;
  std::unique_ptr<StdinPipe> stdin_;
  std::unique_ptr<Process> held_;
};

TEST_F(TlsReload, SwapToNewFilesKeepsOpenConnectionsAndServesTheNewCertificate) {
  open_long_lived();
  EXPECT_EQ(first_certificate_fingerprint(held_->output()), site_v1_.fingerprint_sha256);

  const IssuedCert site_v2 = pki_->issue("site-v2", named("site.example.com", "site v2"));
  write_config(config(entry(fallback_) + entry(site_v2) + entry(extra_), "body-v2"));
  ASSERT_TRUE(sighup_applied()) << sluice_->process().output();

  // The connection opened before the reload is served after it, by the
  // new configuration.
  ASSERT_TRUE(stdin_->write(keep_alive_get()));
  EXPECT_TRUE(held_->wait_for_count("HTTP/1.1 200", 2, std::chrono::seconds(20)))
      << held_->output();
  EXPECT_TRUE(held_->wait_for_count("body-v2", 1, std::chrono::seconds(20))) << held_->output();
  EXPECT_TRUE(held_->running()) << held_->output();
  // New connections get the new certificate; the other names are unchanged.
  EXPECT_EQ(served_fingerprint(port_, "site.example.com"), site_v2.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port_, "extra.example.com"), extra_.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port_, ""), fallback_.fingerprint_sha256);
}

TEST_F(TlsReload, FilesRewrittenInPlaceAreReadAgainOnReload) {
  open_long_lived();
  // A renewal that writes the same paths (as certbot's deploy hooks do).
  const IssuedCert site_v2 = pki_->issue("site", named("site.example.com", "site v2"));
  ASSERT_EQ(site_v2.cert_path, site_v1_.cert_path);
  ASSERT_NE(site_v2.fingerprint_sha256, site_v1_.fingerprint_sha256);
  write_config(config(entry(fallback_) + entry(site_v1_) + entry(extra_), "body-v2"));
  ASSERT_TRUE(sighup_applied()) << sluice_->process().output();

  ASSERT_TRUE(stdin_->write(keep_alive_get()));
  EXPECT_TRUE(held_->wait_for_count("HTTP/1.1 200", 2, std::chrono::seconds(20)))
      << held_->output();
  EXPECT_TRUE(held_->wait_for_count("body-v2", 1, std::chrono::seconds(20))) << held_->output();
  EXPECT_EQ(served_fingerprint(port_, "site.example.com"), site_v2.fingerprint_sha256);
}

TEST_F(TlsReload, RemovedCertificateIsNeverOfferedAgain) {
  ASSERT_EQ(served_fingerprint(port_, "extra.example.com"), extra_.fingerprint_sha256);
  write_config(config(entry(fallback_) + entry(site_v1_)));
  ASSERT_TRUE(sighup_applied()) << sluice_->process().output();
  EXPECT_EQ(served_fingerprint(port_, "extra.example.com"), fallback_.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port_, "site.example.com"), site_v1_.fingerprint_sha256);
}

TEST_F(TlsReload, BrokenCertificateIsRefusedWithItsPositionAndTheOldOneKeepsServing) {
  open_long_lived();
  // A renewal gone wrong: the new certificate with a key of another.
  const IssuedCert site_v2 = pki_->issue("site-v2", named("site.example.com", "site v2"));
  const std::string wrong_key = TestPki::stray_key(dir_.path().string(), "wrong");
  const std::string bad_entry =
      "        - {cert: " + site_v2.cert_path + ", key: " + wrong_key + "}\n";
  write_config(config(entry(fallback_) + bad_entry + entry(extra_), "body-v2"));
  const int line = line_of(yaml_, wrong_key);
  ::kill(sluice_->process().pid(), SIGHUP);
  ASSERT_TRUE(sluice_->process().wait_for_line("the running configuration is unchanged",
                                               std::chrono::seconds(20)))
      << sluice_->process().output();
  const auto error_line = sluice_->process().wait_for_line(
      sluice_->config_path() + ":" + std::to_string(line) + ":", std::chrono::seconds(1));
  ASSERT_TRUE(error_line) << sluice_->process().output();
  EXPECT_TRUE(contains(*error_line, ": error: ")) << *error_line;
  EXPECT_TRUE(contains(*error_line, "does not match")) << *error_line;

  EXPECT_EQ(served_fingerprint(port_, "site.example.com"), site_v1_.fingerprint_sha256);
  ASSERT_TRUE(stdin_->write(keep_alive_get()));
  EXPECT_TRUE(held_->wait_for_count("HTTP/1.1 200", 2, std::chrono::seconds(20)))
      << held_->output();
}

TEST_F(TlsReload, PostedConfigurationWithAGarbageCertificateIsRefusedNamingIt) {
  const std::string garbage =
      dir_.write("garbage.crt", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n");
  const std::string yaml = config(entry(fallback_) + "        - {cert: " + garbage +
                                  ", key: " + site_v1_.key_path + "}\n" + entry(extra_));
  const int line = line_of(yaml, garbage);
  const std::uint16_t admin = sluice_->port("admin");
  RawConnection c(admin);
  ASSERT_TRUE(c.send("POST /config HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(admin) +
                     "\r\nContent-Type: application/yaml\r\nContent-Length: " +
                     std::to_string(yaml.size()) + "\r\n\r\n" + yaml));
  const auto r = c.read_response(false, 30'000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_TRUE(contains(r->body, "POST /config:" + std::to_string(line) + ":")) << r->body;
  EXPECT_TRUE(contains(r->body, garbage)) << r->body;
  EXPECT_TRUE(contains(r->body, "unchanged")) << r->body;
  EXPECT_EQ(served_fingerprint(port_, "site.example.com"), site_v1_.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port_, "extra.example.com"), extra_.fingerprint_sha256);
}

}  // namespace
}  // namespace sluice::test
