// TLS towards backend servers: one OpenSSL client context per backend's
// TLS settings (trust, client certificate, ALPN), and the sessions servers
// gave us, kept per destination so the next connection resumes (RFC 8446
// §2.2) instead of paying a full handshake.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

struct ssl_session_st;  // SSL_SESSION, without <openssl/ssl.h>

namespace sluice::tls {

using SslSession = ::ssl_session_st;

// The last session one destination gave us. Any worker's connection may
// store or take it (a mutex: once per new connection, never per request).
class ResumptionSlot {
 public:
  ~ResumptionSlot();
  // Takes a reference to `session` (null forgets it).
  void store(SslSession* session);
  // A new reference to the stored session, or null.
  SslSession* take() const;

 private:
  mutable std::mutex mutex_;
  SslSession* session_ = nullptr;
};

// Slots by destination number, for the life of the process.
class ResumptionSlots {
 public:
  ResumptionSlot* slot(std::uint32_t destination);

 private:
  std::mutex mutex_;
  std::unordered_map<std::uint32_t, std::unique_ptr<ResumptionSlot>> slots_;
};

struct ClientSettings {
  bool verify = true;
  std::string ca;  // PEM file; empty: the system's trust store
  std::vector<std::string> alpn;
  std::string certificate;  // client certificate chain file; empty: none
  std::string key;
};

class ClientContext {
 public:
  static std::shared_ptr<ClientContext> create(const ClientSettings& settings, std::string& error);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // A connecting-side SSL: `sni` sent (empty: none), the server's
  // certificate checked against `verify_name` (a host name, or an IP
  // literal checked as an address), resuming from `slot` when it holds a
  // session and storing the new one there.
  SSL* new_ssl(const std::string& sni, const std::string& verify_name, ResumptionSlot* slot) const;
  const ClientSettings& settings() const { return settings_; }

 private:
  ClientContext() = default;
  static int on_new_session(SSL* ssl, SslSession* session);

  SSL_CTX* ctx_ = nullptr;
  ClientSettings settings_;
};

}  // namespace sluice::tls
