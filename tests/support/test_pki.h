// Certificates made at test time (OpenSSL 3, libcrypto): a CA, leaves it
// signs, self-signed leaves and stray keys, written as PEM files for sluice,
// nginx, curl and `openssl s_client` to read. EC P-256 by default, so a test
// can make a thousand of them in well under two seconds; RSA 2048 on request.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sluice::test {

enum class KeyKind {
  ec_p256,  // ECDSA on P-256: fast to make and to sign with
  rsa2048,  // RSA 2048: slow to make (~0.1 s); for tests about RSA itself
};

struct CertSpec {
  // subjectAltName DNS entries ("a.example.com", "*.example.com")
  std::vector<std::string> dns_names;
  // subjectAltName IP entries ("127.0.0.1")
  std::vector<std::string> ip_addresses;
  // subject CN; empty: the first DNS name, else "sluice test"
  std::string common_name;
  KeyKind key = KeyKind::ec_p256;
  int valid_from_days = -1;  // notBefore, days from now (may be negative)
  int valid_days = 365;      // notAfter = notBefore + this many days (may make it expired)
  bool client = false;       // extendedKeyUsage clientAuth instead of serverAuth
};

struct IssuedCert {
  std::string cert_path;    // PEM: leaf, then the issuing CA (the chain a server sends)
  std::string key_path;     // PEM private key (PKCS#8, unencrypted)
  std::string bundle_path;  // PEM: chain then key, in one file (a "directory" entry)
  // the leaf subject in RFC 2253 form, as X509_NAME_print_ex(XN_FLAG_RFC2253) prints it
  std::string subject;
  // the leaf's serial number, hex upper case
  std::string serial_hex;
  // hex upper case, colon-separated as `openssl x509 -fingerprint -sha256` prints
  std::string fingerprint_sha256;
};

// Every certificate gets a random 128-bit serial, SubjectKeyIdentifier and
// AuthorityKeyIdentifier; leaves get basicConstraints CA:FALSE, keyUsage
// digitalSignature (+keyEncipherment for RSA) and one extendedKeyUsage.
// Errors (a missing directory, an IP address that does not parse) throw
// std::runtime_error naming OpenSSL's reason.
class TestPki {
 public:
  // Creates a CA (self-signed, CA:TRUE, keyCertSign) named `ca_name`
  // and writes it to dir/<ca_name>.pem. `dir` must exist.
  explicit TestPki(std::string dir, std::string ca_name = "test-ca",
                   KeyKind ca_key = KeyKind::ec_p256);
  ~TestPki();
  TestPki(TestPki&&) noexcept;
  TestPki& operator=(TestPki&&) noexcept;
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& ca_path() const;
  // A leaf signed by this CA; files dir/<file_stem>.crt, .key, .pem.
  IssuedCert issue(const std::string& file_stem, const CertSpec& spec);
  // A self-signed leaf (not from this CA).
  static IssuedCert self_signed(const std::string& dir, const std::string& file_stem,
                                const CertSpec& spec);
  // A key file that belongs to no certificate (for "key does not match" tests).
  static std::string stray_key(const std::string& dir, const std::string& file_stem,
                               KeyKind kind = KeyKind::ec_p256);

 private:
  struct Ca;  // the CA's key and certificate (OpenSSL objects, kept out of this header)
  std::string dir_;
  std::string ca_path_;
  std::unique_ptr<Ca> ca_;
};

}  // namespace sluice::test
