// One TLS listener's OpenSSL context: protocol versions, ciphers, groups,
// ALPN, client certificates, resumption, and the certificate store that
// the SNI picks from. Built with each configuration snapshot and shared by
// every worker; its certificate store can be swapped on its own (the admin
// API, a changed certificate file), and a handshake takes the store in
// force when the client's hello arrives.
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tls/certificate_store.h"

namespace sluice::tls {

class TicketKeys;

struct ServerSettings {
  std::string name;               // the listener's, for logs and the session id context
  bool tls13_only = false;        // minimum version 1.3 (else 1.2)
  std::string ciphers;            // TLS 1.2; empty: Mozilla intermediate
  std::string ciphersuites;       // TLS 1.3; empty: OpenSSL's default
  std::string curves;             // empty: X25519, P-256, P-384
  std::vector<std::string> alpn;  // ours, preferred first; empty: no ALPN
  std::string client_ca;          // non-empty: ask for client certificates, trusting these CAs
  bool client_cert_required = true;
  bool session_tickets = true;
  std::size_t session_cache_size = 20'000;  // 0: no server-side cache
  std::uint64_t session_timeout_s = 7'200;
  bool ktls = false;
};

class ServerContext {
 public:
  // Null with `error` set when OpenSSL refuses a setting (a cipher list
  // that names nothing, an unknown group, an unreadable CA file).
  static std::shared_ptr<ServerContext> create(const ServerSettings& settings,
                                               std::shared_ptr<const CertificateStore> store,
                                               TicketKeys* tickets, std::string& error);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A new accepting-side SSL for one connection (null if out of memory).
  SSL* new_ssl() const;

  std::shared_ptr<const CertificateStore> certificates() const { return store_.load(); }
  void replace_certificates(std::shared_ptr<const CertificateStore> store) {
    store_.store(std::move(store));
  }
  const ServerSettings& settings() const { return settings_; }

 private:
  ServerContext() = default;
  static int on_certificate(SSL* ssl, void* self);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                     const unsigned char* in, unsigned int inlen, void* self);
  bool configure(TicketKeys* tickets, std::string& error);
  bool install_default_certificates(std::string& error);
  bool configure_client_auth(std::string& error);
  void configure_resumption(TicketKeys* tickets);

  SSL_CTX* ctx_ = nullptr;
  ServerSettings settings_;
  std::vector<unsigned char> alpn_wire_;  // ALPN list in wire format
  std::atomic<std::shared_ptr<const CertificateStore>> store_;
  // The default certificates set in ctx_ when it was made (the store's
  // default then; a later store may have another).
  std::shared_ptr<const Certificate> installed_[2];
};

}  // namespace sluice::tls
