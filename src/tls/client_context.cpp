#include "tls/client_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls/certificate.h"
#include "tls/openssl_error.h"

namespace sluice::tls {
namespace {

int slot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool is_ip_literal(const std::string& s) {
  return s.find(':') != std::string::npos ||
         (!s.empty() && s.find_first_not_of("0123456789.") == std::string::npos);
}

}  // namespace

ResumptionSlot::~ResumptionSlot() {
  SSL_SESSION_free(session_);
}

void ResumptionSlot::store(SSL_SESSION* session) {
  if (session != nullptr) SSL_SESSION_up_ref(session);
  SSL_SESSION* old = nullptr;
  {
    std::lock_guard lock(mutex_);
    old = session_;
    session_ = session;
  }
  SSL_SESSION_free(old);
}

SSL_SESSION* ResumptionSlot::take() const {
  std::lock_guard lock(mutex_);
  if (session_ != nullptr) SSL_SESSION_up_ref(session_);
  return session_;
}

ResumptionSlot* ResumptionSlots::slot(std::uint32_t destination) {
  std::lock_guard lock(mutex_);
  auto& s = slots_[destination];
  if (!s) s = std::make_unique<ResumptionSlot>();
  return s.get();
}

std::shared_ptr<ClientContext> ClientContext::create(const ClientSettings& settings,
                                                     std::string& error) {
  ERR_clear_error();
  std::shared_ptr<ClientContext> c(new ClientContext());
  c->settings_ = settings;
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX* ctx = c->ctx_;
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + take_openssl_errors();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One recv per arrival rather than one per record header and one per
  // record body; what was read ahead is released with the buffer.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (settings.verify) {
    const bool loaded = settings.ca.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx) == 1
                            : SSL_CTX_load_verify_locations(ctx, settings.ca.c_str(), nullptr) == 1;
    if (!loaded) {
      error = "cannot load trusted CAs" + (settings.ca.empty() ? "" : " from " + settings.ca) +
              ": " + take_openssl_errors();
      return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!settings.certificate.empty()) {
    auto cert = Certificate::load(settings.certificate, settings.key, error);
    if (!cert) return nullptr;
    if (SSL_CTX_use_cert_and_key(ctx, cert->leaf(), cert->key(), cert->chain(), 1) != 1) {
      error =
          "cannot use client certificate " + settings.certificate + ": " + take_openssl_errors();
      return nullptr;
    }
  }
  if (!settings.alpn.empty()) {
    std::vector<unsigned char> wire;
    for (const auto& p : settings.alpn) {
      wire.push_back(static_cast<unsigned char>(p.size()));
      wire.insert(wire.end(), p.begin(), p.end());
    }
    SSL_CTX_set_alpn_protos(ctx, wire.data(), static_cast<unsigned>(wire.size()));
  }
  // Sessions go to the destination's slot (the callback), not to an
  // internal cache.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &ClientContext::on_new_session);
  return c;
}

ClientContext::~ClientContext() {
  SSL_CTX_free(ctx_);
}

SSL* ClientContext::new_ssl(const std::string& sni, const std::string& verify_name,
                            ResumptionSlot* slot) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  SSL_set_connect_state(ssl);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  if (settings_.verify && !verify_name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip_literal(verify_name)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, verify_name.c_str());
    }
  }
  if (slot != nullptr) {
    SSL_set_ex_data(ssl, slot_index(), slot);
    if (SSL_SESSION* s = slot->take()) {
      SSL_set_session(ssl, s);
      SSL_SESSION_free(s);
    }
  }
  return ssl;
}

int ClientContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<ResumptionSlot*>(SSL_get_ex_data(ssl, slot_index()));
  if (slot != nullptr) slot->store(session);
  return 0;  // we took our own reference; OpenSSL keeps its own
}

}  // namespace sluice::tls
