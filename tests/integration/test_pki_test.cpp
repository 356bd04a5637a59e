// The test-time certificates (tests/support/test_pki.h), checked by the real
// `openssl` command line: what the TLS tests build on must be what OpenSSL
// itself accepts, names and reports.
#include "support/test_pki.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

std::string dir_of(const TempDir& d) {
  return d.path().string();
}

// The value after the first '=' on the output's first line, without the
// newline: `subject=CN=a`, `sha256 Fingerprint=AB:..`, `serial=0A..`.
std::string value_after_equals(const std::string& output) {
  const std::string line = output.substr(0, output.find('\n'));
  const auto eq = line.find('=');
  return eq == std::string::npos ? "" : line.substr(eq + 1);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

TEST(TestPki, LeafVerifiesAgainstItsCa) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.dns_names = {"a.example.com"};
  const IssuedCert leaf = pki.issue("leaf", spec);
  const auto r = run_command({"openssl", "verify", "-CAfile", pki.ca_path(), leaf.cert_path});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(": OK"), std::string::npos) << r.output;
  // The purpose check: the leaf is a TLS server certificate.
  const auto purpose = run_command(
      {"openssl", "verify", "-purpose", "sslserver", "-CAfile", pki.ca_path(), leaf.cert_path});
  EXPECT_EQ(purpose.exit_code, 0) << purpose.output;
}

TEST(TestPki, CertFileHoldsLeafThenCa) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  const IssuedCert leaf = pki.issue("leaf", CertSpec{});
  const std::string chain = read_file(leaf.cert_path);
  EXPECT_EQ(count(chain, "-----BEGIN CERTIFICATE-----"), 2u);
  // The second certificate is the CA's file, byte for byte.
  EXPECT_EQ(chain.substr(chain.size() - read_file(pki.ca_path()).size()), read_file(pki.ca_path()));
}

TEST(TestPki, CaIsACertificateAuthority) {
  TempDir dir;
  TestPki pki(dir_of(dir), "my-root");
  EXPECT_EQ(pki.ca_path(), (dir.path() / "my-root.pem").string());
  const auto r = run_command({"openssl", "x509", "-in", pki.ca_path(), "-noout", "-ext",
                              "basicConstraints,keyUsage", "-subject", "-nameopt", "RFC2253"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("subject=CN=my-root"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CA:TRUE"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Certificate Sign"), std::string::npos) << r.output;
}

TEST(TestPki, SubjectAltNamesListEveryDnsNameAndIpAddress) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.dns_names = {"a.example.com", "*.example.com"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  const IssuedCert leaf = pki.issue("leaf", spec);
  const auto r =
      run_command({"openssl", "x509", "-in", leaf.cert_path, "-noout", "-ext", "subjectAltName"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("DNS:a.example.com, DNS:*.example.com, IP Address:127.0.0.1, IP "
                          "Address:0:0:0:0:0:0:0:1"),
            std::string::npos)
      << r.output;
}

TEST(TestPki, LeafExtensionsFollowTheSpec) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.client = true;
  const IssuedCert client = pki.issue("client", spec);
  const auto r = run_command(
      {"openssl", "x509", "-in", client.cert_path, "-noout", "-ext",
       "basicConstraints,keyUsage,extendedKeyUsage,subjectKeyIdentifier,authorityKeyIdentifier"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("CA:FALSE"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Digital Signature"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Key Encipherment"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TLS Web Client Authentication"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("TLS Web Server Authentication"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Subject Key Identifier"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Authority Key Identifier"), std::string::npos) << r.output;
  const auto purpose = run_command(
      {"openssl", "verify", "-purpose", "sslclient", "-CAfile", pki.ca_path(), client.cert_path});
  EXPECT_EQ(purpose.exit_code, 0) << purpose.output;
}

TEST(TestPki, RsaLeafOnRequestHasKeyEncipherment) {
  TempDir dir;
  TestPki pki(dir_of(dir), "rsa-ca", KeyKind::rsa2048);
  CertSpec spec;
  spec.dns_names = {"rsa.example.com"};
  spec.key = KeyKind::rsa2048;
  const IssuedCert leaf = pki.issue("rsa", spec);
  const auto text = run_command({"openssl", "x509", "-in", leaf.cert_path, "-noout", "-text"});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("Public-Key: (2048 bit)"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("Signature Algorithm: sha256WithRSAEncryption"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("Digital Signature, Key Encipherment"), std::string::npos)
      << text.output;
  EXPECT_EQ(run_command({"openssl", "verify", "-CAfile", pki.ca_path(), leaf.cert_path}).exit_code,
            0);
}

TEST(TestPki, ExpiredSpecIsReportedExpired) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.valid_from_days = -30;
  spec.valid_days = 10;  // ended 20 days ago
  const IssuedCert expired = pki.issue("expired", spec);
  const auto r =
      run_command({"openssl", "x509", "-in", expired.cert_path, "-noout", "-checkend", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("will expire"), std::string::npos) << r.output;
  const auto verify =
      run_command({"openssl", "verify", "-CAfile", pki.ca_path(), expired.cert_path});
  EXPECT_NE(verify.exit_code, 0);
  EXPECT_NE(verify.output.find("certificate has expired"), std::string::npos) << verify.output;

  const IssuedCert valid = pki.issue("valid", CertSpec{});
  const auto ok = run_command({"openssl", "x509", "-in", valid.cert_path, "-noout", "-checkend",
                               std::to_string(300 * 86400)});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST(TestPki, NotYetValidSpecIsRejectedByVerify) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.valid_from_days = 2;
  const IssuedCert future = pki.issue("future", spec);
  const auto r = run_command({"openssl", "verify", "-CAfile", pki.ca_path(), future.cert_path});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("certificate is not yet valid"), std::string::npos) << r.output;
}

TEST(TestPki, SubjectSerialAndFingerprintMatchOpenssl) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.dns_names = {"b.example.com", "c.example.com"};
  const IssuedCert leaf = pki.issue("leaf", spec);
  EXPECT_EQ(leaf.subject, "CN=b.example.com");  // the first DNS name
  const auto subject = run_command(
      {"openssl", "x509", "-in", leaf.cert_path, "-noout", "-subject", "-nameopt", "RFC2253"});
  ASSERT_EQ(subject.exit_code, 0) << subject.output;
  EXPECT_EQ(value_after_equals(subject.output), leaf.subject);
  const auto fingerprint =
      run_command({"openssl", "x509", "-in", leaf.cert_path, "-noout", "-fingerprint", "-sha256"});
  ASSERT_EQ(fingerprint.exit_code, 0) << fingerprint.output;
  EXPECT_EQ(value_after_equals(fingerprint.output), leaf.fingerprint_sha256);
  const auto serial = run_command({"openssl", "x509", "-in", leaf.cert_path, "-noout", "-serial"});
  ASSERT_EQ(serial.exit_code, 0) << serial.output;
  EXPECT_EQ(value_after_equals(serial.output), leaf.serial_hex);
}

TEST(TestPki, CommonNameDefaultsAndOverride) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  EXPECT_EQ(pki.issue("none", CertSpec{}).subject, "CN=sluice test");
  CertSpec named;
  named.dns_names = {"a.example.com"};
  named.common_name = "Backend, Inc";
  // RFC 2253 section 2.4: a ',' in a value is escaped.
  EXPECT_EQ(pki.issue("named", named).subject, "CN=Backend\\, Inc");
}

TEST(TestPki, SerialsAreRandomAnd128Bits) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  const std::string a = pki.issue("a", CertSpec{}).serial_hex;
  const std::string b = pki.issue("b", CertSpec{}).serial_hex;
  EXPECT_NE(a, b);
  // At most 16 bytes, and random ones are rarely shorter than 14.
  EXPECT_LE(a.size(), 32u);
  EXPECT_GE(a.size(), 28u);
  EXPECT_EQ(a.find_first_not_of("0123456789ABCDEF"), std::string::npos) << a;
}

TEST(TestPki, BundleHoldsChainAndMatchingKey) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.dns_names = {"a.example.com"};
  const IssuedCert leaf = pki.issue("leaf", spec);
  EXPECT_EQ(leaf.bundle_path, (dir.path() / "leaf.pem").string());
  EXPECT_EQ(leaf.key_path, (dir.path() / "leaf.key").string());
  EXPECT_EQ(leaf.cert_path, (dir.path() / "leaf.crt").string());
  EXPECT_EQ(read_file(leaf.bundle_path), read_file(leaf.cert_path) + read_file(leaf.key_path));
  EXPECT_EQ(read_file(leaf.key_path).rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);  // PKCS#8
  // The bundle's first certificate is the leaf, and its key is the leaf's.
  const auto fp = run_command(
      {"openssl", "x509", "-in", leaf.bundle_path, "-noout", "-fingerprint", "-sha256"});
  ASSERT_EQ(fp.exit_code, 0) << fp.output;
  EXPECT_EQ(value_after_equals(fp.output), leaf.fingerprint_sha256);
  const auto cert_pub =
      run_command({"openssl", "x509", "-in", leaf.bundle_path, "-noout", "-pubkey"});
  const auto key_pub = run_command({"openssl", "pkey", "-in", leaf.bundle_path, "-pubout"});
  ASSERT_EQ(cert_pub.exit_code, 0) << cert_pub.output;
  ASSERT_EQ(key_pub.exit_code, 0) << key_pub.output;
  EXPECT_EQ(cert_pub.output, key_pub.output);
}

TEST(TestPki, StrayKeyMatchesNoIssuedCertificate) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  const IssuedCert leaf = pki.issue("leaf", CertSpec{});
  const std::string stray = TestPki::stray_key(dir_of(dir), "stray", KeyKind::ec_p256);
  EXPECT_EQ(stray, (dir.path() / "stray.key").string());
  const auto stray_pub = run_command({"openssl", "pkey", "-in", stray, "-pubout"});
  const auto cert_pub =
      run_command({"openssl", "x509", "-in", leaf.cert_path, "-noout", "-pubkey"});
  ASSERT_EQ(stray_pub.exit_code, 0) << stray_pub.output;
  EXPECT_NE(stray_pub.output.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_NE(stray_pub.output, cert_pub.output);
}

TEST(TestPki, SelfSignedLeafIsNotTrustedByTheCa) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  CertSpec spec;
  spec.dns_names = {"self.example.com"};
  const IssuedCert self = TestPki::self_signed(dir_of(dir), "self", spec);
  const std::string pem = read_file(self.cert_path);
  EXPECT_EQ(count(pem, "-----BEGIN CERTIFICATE-----"), 1u);
  const auto issuer = run_command(
      {"openssl", "x509", "-in", self.cert_path, "-noout", "-issuer", "-nameopt", "RFC2253"});
  EXPECT_EQ(value_after_equals(issuer.output), "CN=self.example.com");
  const auto r = run_command({"openssl", "verify", "-CAfile", pki.ca_path(), self.cert_path});
  EXPECT_NE(r.exit_code, 0) << r.output;
}

TEST(TestPki, ErrorsThrowWithTheReason) {
  TempDir dir;
  EXPECT_THROW(TestPki((dir.path() / "missing").string()), std::runtime_error);
  TestPki pki(dir_of(dir));
  CertSpec bad;
  bad.ip_addresses = {"not-an-address"};
  try {
    pki.issue("bad", bad);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not-an-address"), std::string::npos) << e.what();
  }
}

TEST(TestPki, ThousandEcLeavesAllVerify) {
  TempDir dir;
  TestPki pki(dir_of(dir));
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  std::vector<std::string> paths;
  for (int i = 0; i < 1000; ++i) {
    CertSpec spec;
    spec.dns_names = {"host" + std::to_string(i) + ".example.com"};
    paths.push_back(pki.issue("leaf" + std::to_string(i), spec).cert_path);
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  const long long cpu_ms = (std::clock() - cpu_start) * 1000LL / CLOCKS_PER_SEC;
  // Reported, not asserted: the time depends on the machine's load. CPU
  // time (user and system, this process) tells the cost apart from waiting
  // for a busy machine.
  std::printf("1000 EC P-256 leaves in %lld ms (%lld ms CPU)\n",
              static_cast<long long>(elapsed.count()), cpu_ms);
  RecordProperty("thousand_leaves_ms", static_cast<int>(elapsed.count()));
  // All of them verify, in one openssl run.
  std::vector<std::string> verify = {"openssl", "verify", "-CAfile", pki.ca_path()};
  verify.insert(verify.end(), paths.begin(), paths.end());
  const auto r = run_command(verify);
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
  EXPECT_EQ(count(r.output, ": OK\n"), 1000u) << r.output.substr(0, 2000);
}

}  // namespace
}  // namespace sluice::test
