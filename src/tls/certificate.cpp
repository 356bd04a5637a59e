#include "tls/certificate.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::time_t to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return ::timegm(&tm);
}

// Keys are read without a pass phrase: OpenSSL's default callback would ask
// for one on the terminal, and `sluice check` or a start-up would hang there.
int no_pass_phrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

std::vector<std::string> dns_names(X509* leaf) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type != GEN_DNS) continue;
      const ASN1_STRING* s = gn->d.dNSName;
      names.push_back(
          lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<std::size_t>(ASN1_STRING_length(s)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (!names.empty()) return names;
  // RFC 6125 §6.4.4: the common name only when no DNS name is present.
  char cn[256];
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
  if (n > 0) names.push_back(lower(std::string_view(cn, static_cast<std::size_t>(n))));
  return names;
}

}  // namespace

std::string rfc2253(X509_NAME* name) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || name == nullptr) return {};
  X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Certificate::~Certificate() {
  X509_free(leaf_);
  sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
}

std::shared_ptr<const Certificate> Certificate::load(const std::string& cert_path,
                                                     const std::string& key_path,
                                                     std::string& error) {
  ERR_clear_error();
  BioPtr chain(BIO_new_file(cert_path.c_str(), "r"));
  if (!chain) {
    error = "cannot read " + cert_path + ": " + take_openssl_errors();
    return nullptr;
  }
  BioPtr key(BIO_new_file(key_path.c_str(), "r"));
  if (!key) {
    error = "cannot read " + key_path + ": " + take_openssl_errors();
    return nullptr;
  }
  return from_bio(chain.get(), key.get(), cert_path, key_path, error);
}

std::shared_ptr<const Certificate> Certificate::parse(std::string_view pem, std::string& error) {
  ERR_clear_error();
  BioPtr chain(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  BioPtr key(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!chain || !key) {
    error = "out of memory";
    return nullptr;
  }
  return from_bio(chain.get(), key.get(), "admin API", "admin API", error);
}

std::shared_ptr<const Certificate> Certificate::from_bio(BIO* chain_bio, BIO* key_bio,
                                                         std::string origin,
                                                         const std::string& key_origin,
                                                         std::string& error) {
  std::shared_ptr<Certificate> c(new Certificate());
  c->origin_ = std::move(origin);
  c->leaf_ = PEM_read_bio_X509(chain_bio, nullptr, nullptr, nullptr);
  if (c->leaf_ == nullptr) {
    ERR_clear_error();
    error = "no PEM certificate in " + c->origin_;
    return nullptr;
  }
  c->chain_ = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(chain_bio, nullptr, nullptr, nullptr)) {
    sk_X509_push(c->chain_, extra);
  }
  ERR_clear_error();  // the end of the chain reads as "no start line"
  c->key_ = PEM_read_bio_PrivateKey(key_bio, nullptr, &no_pass_phrase, nullptr);
  if (c->key_ == nullptr) {
    error = "no PEM private key in " + key_origin +
            " (an encrypted key is not supported): " + take_openssl_errors();
    return nullptr;
  }
  if (X509_check_private_key(c->leaf_, c->key_) != 1) {
    ERR_clear_error();
    error = key_origin == c->origin_
                ? "the private key does not match the certificate in " + c->origin_
                : "the private key in " + key_origin + " does not match the certificate in " +
                      c->origin_;
    return nullptr;
  }
  if (!c->describe(error)) return nullptr;
  return c;
}

bool Certificate::describe(std::string& error) {
  names_ = dns_names(leaf_);
  not_before_ = to_time(X509_get0_notBefore(leaf_));
  not_after_ = to_time(X509_get0_notAfter(leaf_));
  subject_ = rfc2253(X509_get_subject_name(leaf_));
  switch (EVP_PKEY_get_base_id(key_)) {
    case EVP_PKEY_EC:
      key_kind_ = "EC";
      break;
    case EVP_PKEY_RSA:
      key_kind_ = "RSA";
      break;
    case EVP_PKEY_ED25519:
      key_kind_ = "Ed25519";
      break;
    default:
      error = "the key type of " + origin_ + " is not supported (use EC or RSA)";
      return false;
  }
  return true;
}

}  // namespace sluice::tls
