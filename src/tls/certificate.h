// A server or client certificate as loaded once from PEM: the leaf, the
// chain sent after it, its private key, and what selection and checks need
// (the names it answers for, when it expires). Immutable once loaded and
// shared: a listener that lists the same files for 800 sites holds one.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct stack_st_X509;  // STACK_OF(X509), without <openssl/x509.h>

namespace sluice::tls {

class Certificate {
 public:
  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  // From a chain file (leaf first) and a key file; both may be one file
  // holding the chain and the key (a directory entry). On failure null,
  // with `error` saying what is wrong in terms of the files ("key does not
  // match the certificate", "no certificate in FILE").
  static std::shared_ptr<const Certificate> load(const std::string& cert_path,
                                                 const std::string& key_path, std::string& error);
  // From PEM text holding the chain and the key (the admin API's body).
  static std::shared_ptr<const Certificate> parse(std::string_view pem, std::string& error);

  X509* leaf() const { return leaf_; }
  STACK_OF(X509) * chain() const { return chain_; }
  EVP_PKEY* key() const { return key_; }
  // DNS names from subjectAltName (lower case, "*." wildcards kept); the
  // subject's common name when there is no DNS name (RFC 6125 §6.4.4).
  const std::vector<std::string>& names() const { return names_; }
  std::time_t not_after() const { return not_after_; }
  std::time_t not_before() const { return not_before_; }
  // "EC" or "RSA" and the leaf's subject (RFC 2253), for logs.
  const std::string& key_kind() const { return key_kind_; }
  const std::string& subject() const { return subject_; }
  // Where it came from ("a.pem", or "admin API"), for logs.
  const std::string& origin() const { return origin_; }

 private:
  Certificate() = default;
  // `origin` and `key_origin` name the certificate's and the key's files
  // in errors.
  static std::shared_ptr<const Certificate> from_bio(BIO* chain_bio, BIO* key_bio,
                                                     std::string origin,
                                                     const std::string& key_origin,
                                                     std::string& error);
  bool describe(std::string& error);

  X509* leaf_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  std::vector<std::string> names_;
  std::time_t not_after_ = 0;
  std::time_t not_before_ = 0;
  std::string key_kind_;
  std::string subject_;
  std::string origin_;
};

// "CN=a,O=b" for `name`, RFC 2253 order and escaping.
std::string rfc2253(X509_NAME* name);

}  // namespace sluice::tls
