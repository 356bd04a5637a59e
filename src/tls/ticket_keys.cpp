#include "tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstring>

namespace sluice::tls {
namespace {

int ctx_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Fetched once: EVP_aes_256_cbc() names a cipher that every
// EVP_EncryptInit_ex call would look up in the provider store again (in
// OpenSSL 3.0 such an implicit fetch is most of what initialising costs).
const EVP_CIPHER* ticket_cipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher != nullptr ? cipher : EVP_aes_256_cbc();
}

bool set_keys(const unsigned char* aes, const unsigned char* hmac, const unsigned char* iv,
              EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, bool encrypt) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(hmac), 32),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return false;
  const int ok = encrypt ? EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, aes, iv)
                         : EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, aes, iv);
  return ok == 1;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotation)
    : rotation_(rotation), current_(make_key()), previous_(current_) {}

TicketKeys::Key TicketKeys::make_key() {
  Key k{};
  RAND_bytes(k.name, sizeof k.name);
  RAND_priv_bytes(k.aes, sizeof k.aes);
  RAND_priv_bytes(k.hmac, sizeof k.hmac);
  k.made = std::chrono::steady_clock::now();
  return k;
}

void TicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, ctx_index(), this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::on_ticket);
}

void TicketKeys::rotate() {
  std::lock_guard lock(mutex_);
  previous_ = current_;
  has_previous_ = true;
  current_ = make_key();
}

int TicketKeys::on_ticket(SSL* ssl, unsigned char name[16], unsigned char* iv,
                          EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index()));
  if (keys == nullptr) return encrypt ? -1 : 0;
  return encrypt ? keys->encrypt(name, iv, cipher, mac) : keys->decrypt(name, iv, cipher, mac);
}

int TicketKeys::encrypt(unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac) {
  std::lock_guard lock(mutex_);
  if (std::chrono::steady_clock::now() - current_.made >= rotation_) {
    previous_ = current_;
    has_previous_ = true;
    current_ = make_key();
  }
  if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
  std::memcpy(name, current_.name, sizeof current_.name);
  return set_keys(current_.aes, current_.hmac, iv, cipher, mac, true) ? 1 : -1;
}

int TicketKeys::decrypt(const unsigned char name[16], const unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac) {
  std::lock_guard lock(mutex_);
  if (std::memcmp(name, current_.name, sizeof current_.name) == 0) {
    return set_keys(current_.aes, current_.hmac, iv, cipher, mac, false) ? 1 : -1;
  }
  if (has_previous_ && std::memcmp(name, previous_.name, sizeof previous_.name) == 0) {
    // 2: valid, but issue a fresh ticket under the current key.
    return set_keys(previous_.aes, previous_.hmac, iv, cipher, mac, false) ? 2 : -1;
  }
  return 0;  // unknown key: a full handshake
}

}  // namespace sluice::tls
