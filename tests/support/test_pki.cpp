#include "support/test_pki.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace sluice::test {
namespace {

struct FreeKey {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FreeCert {
  void operator()(X509* c) const { X509_free(c); }
};
struct FreeBio {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct FreeNames {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};
using Key = std::unique_ptr<EVP_PKEY, FreeKey>;
using Cert = std::unique_ptr<X509, FreeCert>;
using Bio = std::unique_ptr<BIO, FreeBio>;
using Names = std::unique_ptr<GENERAL_NAMES, FreeNames>;

// Throws with `what` and the reasons OpenSSL queued, oldest first; clears
// the queue so the next failure does not report this one's reasons.
[[noreturn]] void fail(const std::string& what) {
  std::string message = "TestPki: " + what;
  while (const unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    message += ": ";
    message += reason != nullptr ? reason : "unknown OpenSSL error";
  }
  throw std::runtime_error(message);
}

template <typename T>
T* check(T* p, const std::string& what) {
  if (p == nullptr) fail(what);
  return p;
}

void check(int ok, const std::string& what) {
  if (ok <= 0) fail(what);
}

Key make_key(KeyKind kind) {
  EVP_PKEY* k = kind == KeyKind::rsa2048
                    ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048))
                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  return Key(check(k, "key generation failed"));
}

std::string bio_contents(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string cert_pem(X509* c) {
  Bio b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509(b.get(), c), "writing a certificate as PEM");
  return bio_contents(b.get());
}

// PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") for every
// key type, which is what nginx, curl and sluice all read.
std::string key_pem(EVP_PKEY* k) {
  Bio b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr),
        "writing a key as PEM");
  return bio_contents(b.get());
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("TestPki: cannot write " + path + ": " + std::strerror(errno));
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out.flush()) throw std::runtime_error("TestPki: write failed: " + path);
}

std::string join_path(const std::string& dir, const std::string& name) {
  return !dir.empty() && dir.back() == '/' ? dir + name : dir + "/" + name;
}

// A random positive 128-bit serial: RFC 5280 section 4.1.2.2 wants serials
// unique per CA and at most 20 octets; random ones need no bookkeeping.
void set_random_serial(X509* c) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_new(), BN_free);
  check(bn.get(), "BN_new");
  do {
    check(BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
  } while (BN_is_zero(bn.get()));
  check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(c)), "setting the serial");
}

void set_common_name(X509* c, const std::string& cn) {
  X509_NAME* name = X509_get_subject_name(c);
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
        "setting the common name '" + cn + "'");
}

// Adds one extension from OpenSSL's configuration syntax ("critical,CA:TRUE").
void add_extension(X509* c, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  check(ext, std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
  const int ok = X509_add_ext(c, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, std::string("adding extension ") + OBJ_nid2sn(nid));
}

// subjectAltName built from GENERAL_NAMEs rather than a "DNS:a,DNS:b"
// string, so no name has to survive OpenSSL's configuration syntax.
void add_subject_alt_names(X509* c, const CertSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty()) return;
  Names names(check(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  for (const auto& dns : spec.dns_names) {
    ASN1_IA5STRING* s = check(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new");
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (g == nullptr || ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(s);
      GENERAL_NAME_free(g);
      fail("DNS name '" + dns + "'");
    }
    GENERAL_NAME_set0_value(g, GEN_DNS, s);
    check(sk_GENERAL_NAME_push(names.get(), g), "adding a DNS name");
  }
  for (const auto& ip : spec.ip_addresses) {
    ASN1_OCTET_STRING* bytes = a2i_IPADDRESS(ip.c_str());
    if (bytes == nullptr) fail("IP address '" + ip + "' does not parse");
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (g == nullptr) {
      ASN1_OCTET_STRING_free(bytes);
      fail("GENERAL_NAME_new");
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, bytes);
    check(sk_GENERAL_NAME_push(names.get(), g), "adding an IP address");
  }
  check(X509_add1_ext_i2d(c, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
        "adding subjectAltName");
}

struct Built {
  Cert cert;
  Key key;
};

// What a certificate is for; the CA profile and the leaf profile differ only
// in their extensions.
enum class Profile {
  authority,  // CA:TRUE, keyCertSign and cRLSign
  leaf,       // CA:FALSE, digitalSignature (+keyEncipherment for RSA), one EKU
};

// Makes a certificate for `subject_cn` with a new `kind` key, signed by
// `issuer` (nullptr: self-signed).
Built build(const std::string& subject_cn, KeyKind kind, Profile profile, const CertSpec& spec,
            X509* issuer_cert, EVP_PKEY* issuer_key) {
  Built b{Cert(check(X509_new(), "X509_new")), make_key(kind)};
  X509* c = b.cert.get();
  check(X509_set_version(c, X509_VERSION_3), "X509_set_version");
  set_random_serial(c);
  set_common_name(c, subject_cn);
  const bool self = issuer_cert == nullptr;
  check(
      X509_set_issuer_name(c, self ? X509_get_subject_name(c) : X509_get_subject_name(issuer_cert)),
      "X509_set_issuer_name");
  // Both times from one reading of the clock, so notAfter - notBefore is
  // exactly valid_days.
  time_t now = std::time(nullptr);
  check(X509_time_adj_ex(X509_getm_notBefore(c), spec.valid_from_days, 0, &now) != nullptr,
        "notBefore");
  check(X509_time_adj_ex(X509_getm_notAfter(c), spec.valid_from_days + spec.valid_days, 0, &now) !=
            nullptr,
        "notAfter");
  check(X509_set_pubkey(c, b.key.get()), "X509_set_pubkey");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, self ? c : issuer_cert, c, nullptr, nullptr, 0);
  if (self) check(X509V3_set_issuer_pkey(&ctx, b.key.get()), "X509V3_set_issuer_pkey");
  add_extension(c, &ctx, NID_subject_key_identifier, "hash");
  add_extension(c, &ctx, NID_authority_key_identifier, "keyid:always");
  if (profile == Profile::authority) {
    add_extension(c, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(c, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(c, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    // RSA key exchange (TLS 1.2 without ECDHE) encrypts with the key, so
    // RFC 5280 section 4.2.1.3 wants keyEncipherment on RSA server keys.
    add_extension(c, &ctx, NID_key_usage,
                  kind == KeyKind::rsa2048 ? "critical,digitalSignature,keyEncipherment"
                                           : "critical,digitalSignature");
    add_extension(c, &ctx, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
    add_subject_alt_names(c, spec);
  }
  check(X509_sign(c, self ? b.key.get() : issuer_key, EVP_sha256()) > 0, "signing");
  return b;
}

std::string leaf_common_name(const CertSpec& spec) {
  if (!spec.common_name.empty()) return spec.common_name;
  if (!spec.dns_names.empty()) return spec.dns_names.front();
  return "sluice test";
}

std::string subject_rfc2253(X509* c) {
  Bio b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(X509_NAME_print_ex(b.get(), X509_get_subject_name(c), 0, XN_FLAG_RFC2253) >= 0,
        "printing the subject");
  return bio_contents(b.get());
}

std::string serial_hex(X509* c) {
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), nullptr), BN_free);
  check(bn.get(), "reading the serial");
  char* hex = check(BN_bn2hex(bn.get()), "BN_bn2hex");
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string fingerprint_sha256(X509* c) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  check(X509_digest(c, EVP_sha256(), md, &n), "X509_digest");
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i > 0) out += ':';
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0xf];
  }
  return out;
}

// Writes <stem>.crt (chain), .key and .pem (chain then key) and describes
// the leaf. `chain_tail`: the PEM that follows the leaf (the issuing CA).
IssuedCert write_leaf(const std::string& dir, const std::string& file_stem, const Built& leaf,
                      const std::string& chain_tail) {
  IssuedCert out;
  out.cert_path = join_path(dir, file_stem + ".crt");
  out.key_path = join_path(dir, file_stem + ".key");
  out.bundle_path = join_path(dir, file_stem + ".pem");
  const std::string chain = cert_pem(leaf.cert.get()) + chain_tail;
  const std::string key = key_pem(leaf.key.get());
  write_file(out.cert_path, chain);
  write_file(out.key_path, key);
  write_file(out.bundle_path, chain + key);
  out.subject = subject_rfc2253(leaf.cert.get());
  out.serial_hex = serial_hex(leaf.cert.get());
  out.fingerprint_sha256 = fingerprint_sha256(leaf.cert.get());
  return out;
}

}  // namespace

struct TestPki::Ca {
  Built built;
  std::string pem;
};

TestPki::TestPki(std::string dir, std::string ca_name, KeyKind ca_key)
    : dir_(std::move(dir)), ca_path_(join_path(dir_, ca_name + ".pem")) {
  CertSpec validity;               // the defaults: from yesterday, for a year
  validity.valid_days = 10 * 365;  // outlives every leaf it signs
  Built built = build(ca_name, ca_key, Profile::authority, validity, nullptr, nullptr);
  std::string pem = cert_pem(built.cert.get());
  write_file(ca_path_, pem);
  ca_ = std::make_unique<Ca>(Ca{std::move(built), std::move(pem)});
}

TestPki::~TestPki() = default;
TestPki::TestPki(TestPki&&) noexcept = default;
TestPki& TestPki::operator=(TestPki&&) noexcept = default;

const std::string& TestPki::ca_path() const {
  return ca_path_;
}

IssuedCert TestPki::issue(const std::string& file_stem, const CertSpec& spec) {
  const Built leaf = build(leaf_common_name(spec), spec.key, Profile::leaf, spec,
                           ca_->built.cert.get(), ca_->built.key.get());
  return write_leaf(dir_, file_stem, leaf, ca_->pem);
}

IssuedCert TestPki::self_signed(const std::string& dir, const std::string& file_stem,
                                const CertSpec& spec) {
  const Built leaf = build(leaf_common_name(spec), spec.key, Profile::leaf, spec, nullptr, nullptr);
  return write_leaf(dir, file_stem, leaf, "");
}

std::string TestPki::stray_key(const std::string& dir, const std::string& file_stem, KeyKind kind) {
  const std::string path = join_path(dir, file_stem + ".key");
  write_file(path, key_pem(make_key(kind).get()));
  return path;
}

}  // namespace sluice::test
