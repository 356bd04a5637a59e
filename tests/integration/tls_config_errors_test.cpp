// What a TLS listener's files hold, checked before sluice runs on them
// (issue 16): `sluice check` and `sluice run` refuse a bad certificate, a
// key that does not match, an expired or not yet valid certificate, a key
// they cannot read, and cipher or curve settings OpenSSL does not know,
// each as FILE:LINE:COL: error; a certificate expiring within 14 days is a
// warning and changes nothing else.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"
#include "tls_clients.h"

namespace sluice::test {
namespace {

int line_of(const std::string& text, const std::string& needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return 0;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

// The output line that starts with `prefix`, or "".
std::string line_starting(const std::string& output, const std::string& prefix) {
  std::size_t at = output.find(prefix);
  while (at != std::string::npos && at != 0 && output[at - 1] != '\n' && output[at - 1] != ' ') {
    at = output.find(prefix, at + 1);
  }
  if (at == std::string::npos) return "";
  return output.substr(at, output.find('\n', at) - at);
}

class TlsConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(dir_.path().string());
    good_ = pki_->issue("good", spec(-1, 365));
  }
  static CertSpec spec(int from_days, int valid_days) {
    CertSpec s;
    s.dns_names = {"site.example.com"};
    s.valid_from_days = from_days;
    s.valid_days = valid_days;
    return s;
  }
  // A configuration whose TLS listener lists `cert` and `key`, then
  // `tls_extra` lines.
  std::string yaml_with(const std::string& cert, const std::string& key,
                        const std::string& tls_extra = "") {
    return "workers: 1\n"
           "listeners:\n"
           "  - name: web\n"
           "    listen: 127.0.0.1:0\n"
           "    tls:\n"
           "      certificates:\n"
           "        - {cert: " +
           cert + ", key: " + key + "}\n" + tls_extra +
           "routes:\n"
           "  - respond: {status: 200}\n";
  }
  // Runs `sluice check` on `yaml`; expects a refusal whose error line is
  // at the line holding `needle` and says `reason`.
  void expect_refused(const std::string& yaml, const std::string& needle,
                      const std::string& reason) {
    const std::string path = dir_.write("sluice.yaml", yaml);
    const std::string at = path + ":" + std::to_string(line_of(yaml, needle)) + ":";
    for (const char* command : {"check", "run"}) {
      const auto r = run_command({sluice_binary(), command, "-c", path});
      EXPECT_NE(r.exit_code, 0) << command << ": " << r.output;
      const std::string line = line_starting(r.output, at);
      EXPECT_FALSE(line.empty()) << command << ": no error at " << at << "\n" << r.output;
      EXPECT_TRUE(contains(line, ": error: ")) << command << ": " << line;
      EXPECT_TRUE(contains(line, reason)) << command << ": " << line;
      EXPECT_FALSE(contains(r.output, "sluice ready")) << command << ": " << r.output;
    }
  }

  TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  IssuedCert good_;
};

TEST_F(TlsConfigErrors, MissingCertificateFile) {
  const std::string missing = dir_.path().string() + "/no-such.crt";
  expect_refused(yaml_with(missing, good_.key_path), missing, "no-such.crt");
}

TEST_F(TlsConfigErrors, KeyThatDoesNotMatchTheCertificate) {
  const std::string stray = TestPki::stray_key(dir_.path().string(), "stray");
  expect_refused(
      yaml_with(good_.cert_path, stray), stray,
      "private key in " + stray + " does not match the certificate in " + good_.cert_path);
}

TEST_F(TlsConfigErrors, FileWithNoCertificate) {
  const std::string text = dir_.write("notes.crt", "this is not a certificate\n");
  expect_refused(yaml_with(text, good_.key_path), text, "notes.crt");
  // A key where the certificate should be.
  expect_refused(yaml_with(good_.key_path, good_.key_path), good_.key_path, "good.key");
}

TEST_F(TlsConfigErrors, ExpiredCertificate) {
  const IssuedCert expired = pki_->issue("expired", spec(-30, 10));
  expect_refused(yaml_with(expired.cert_path, expired.key_path), expired.cert_path, "expired");
}

TEST_F(TlsConfigErrors, CertificateNotValidYet) {
  const IssuedCert future = pki_->issue("future", spec(5, 365));
  expect_refused(yaml_with(future.cert_path, future.key_path), future.cert_path,
                 "not valid before");
}

TEST_F(TlsConfigErrors, EncryptedKey) {
  const std::string encrypted = dir_.path().string() + "/encrypted.key";
  const auto made = run_command({"openssl", "pkey", "-in", good_.key_path, "-aes256", "-passout",
                                 "pass:secret", "-out", encrypted});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  ASSERT_TRUE(contains(read_whole_file(encrypted), "ENCRYPTED"));
  expect_refused(yaml_with(good_.cert_path, encrypted), encrypted, "encrypted.key");
}

// Found with this test: OpenSSL's default pass phrase callback asked on the
// terminal, so `sluice check` run by hand waited there for ever.
TEST_F(TlsConfigErrors, EncryptedKeyIsRefusedWithoutAskingOnTheTerminal) {
  const std::string encrypted = dir_.path().string() + "/encrypted.key";
  ASSERT_EQ(run_command({"openssl", "pkey", "-in", good_.key_path, "-aes256", "-passout",
                         "pass:secret", "-out", encrypted})
                .exit_code,
            0);
  const std::string yaml = yaml_with(good_.cert_path, encrypted);
  const std::string path = dir_.write("sluice.yaml", yaml);
  // script(1) gives the command a terminal, as a user's shell would.
  const auto r = run_command(
      {"script", "-qec", sluice_binary() + " check -c " + shell_quote(path), "/dev/null"},
      std::chrono::seconds(10));
  EXPECT_NE(r.exit_code, -1) << "still waiting after 10 s\n" << r.output;
  EXPECT_FALSE(contains(r.output, "pass phrase")) << r.output;
  EXPECT_TRUE(contains(r.output, path + ":" + std::to_string(line_of(yaml, encrypted)) + ":"))
      << r.output;
}

TEST_F(TlsConfigErrors, GarbageKey) {
  const std::string garbage =
      dir_.write("garbage.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  expect_refused(yaml_with(good_.cert_path, garbage), garbage, "garbage.key");
}

// What OpenSSL refuses in the listener's settings is reported at its tls
// block (its first key), naming the setting and the value.
TEST_F(TlsConfigErrors, CipherListNamingNoCipher) {
  expect_refused(yaml_with(good_.cert_path, good_.key_path, "      ciphers: NOT-A-CIPHER\n"),
                 "certificates:", "ciphers 'NOT-A-CIPHER'");
}

TEST_F(TlsConfigErrors, UnknownCurve) {
  expect_refused(yaml_with(good_.cert_path, good_.key_path, "      curves: X25519:P-999\n"),
                 "certificates:", "curves 'X25519:P-999'");
}

TEST_F(TlsConfigErrors, CertificateExpiringWithinFourteenDaysIsAWarningOnly) {
  const IssuedCert soon = pki_->issue("soon", spec(-300, 307));  // about 7 days left
  const std::string yaml = yaml_with(soon.cert_path, soon.key_path);
  const std::string path = dir_.write("sluice.yaml", yaml);
  const std::string at = path + ":" + std::to_string(line_of(yaml, soon.cert_path)) + ":";

  const auto check = run_command({sluice_binary(), "check", "-c", path});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  const std::string line = line_starting(check.output, at);
  EXPECT_TRUE(contains(line, ": warning: ")) << check.output;
  EXPECT_TRUE(contains(line, "expires on")) << check.output;
  EXPECT_FALSE(contains(check.output, ": error: ")) << check.output;

  // At start-up: the same warning, and the certificate is served.
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_TRUE(contains(sluice.process().output(), "expires on")) << sluice.process().output();
  EXPECT_EQ(served_fingerprint(sluice.port("web"), "site.example.com"), soon.fingerprint_sha256);
}

TEST_F(TlsConfigErrors, EveryBadCertificateIsReportedNotJustTheFirst) {
  const IssuedCert expired = pki_->issue("expired", spec(-30, 10));
  const std::string stray = TestPki::stray_key(dir_.path().string(), "stray");
  const std::string yaml =
      "workers: 1\n"
      "listeners:\n"
      "  - name: web\n"
      "    listen: 127.0.0.1:0\n"
      "    tls:\n"
      "      certificates:\n"
      "        - {cert: " +
      good_.cert_path + ", key: " + good_.key_path +
      "}\n"
      "        - {cert: " +
      expired.cert_path + ", key: " + expired.key_path +
      "}\n"
      "        - {cert: " +
      good_.cert_path + ", key: " + stray +
      "}\n"
      "routes:\n"
      "  - respond: {status: 200}\n";
  const std::string path = dir_.write("sluice.yaml", yaml);
  const auto r = run_command({sluice_binary(), "check", "-c", path});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(line_starting(r.output, path + ":8:"), "expired")) << r.output;
  EXPECT_TRUE(contains(line_starting(r.output, path + ":9:"), "does not match")) << r.output;
}

}  // namespace
}  // namespace sluice::test
