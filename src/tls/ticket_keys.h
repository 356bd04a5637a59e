// The keys that encrypt TLS session tickets (RFC 5077; RFC 8446 §4.6.1),
// one set for the whole process: every worker and every listener issues
// and accepts the same tickets, and a reload keeps them. The current key
// encrypts; it is replaced every `rotation`, and the one before stays for
// decryption only, so a ticket lives between one and two rotations. A
// ticket under the previous key is accepted and renewed under the current.
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>

namespace sluice::tls {

class TicketKeys {
 public:
  explicit TicketKeys(std::chrono::seconds rotation = std::chrono::hours(1));
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // Makes `ctx` issue and accept tickets under these keys. They must
  // outlive it.
  void install(SSL_CTX* ctx);
  // Makes a new current key now (the current one becomes the previous).
  void rotate();
  std::chrono::seconds rotation() const { return rotation_; }

 private:
  struct Key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    std::chrono::steady_clock::time_point made;
  };
  static int on_ticket(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                       EVP_MAC_CTX* mac, int encrypt);
  int encrypt(unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac);
  int decrypt(const unsigned char name[16], const unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac);
  static Key make_key();

  std::chrono::seconds rotation_;
  std::mutex mutex_;  // handshakes only: never on the request path
  Key current_;
  Key previous_;
  bool has_previous_ = false;
};

}  // namespace sluice::tls
