#include "tls/server_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

#include "tls/openssl_error.h"
#include "tls/ticket_keys.h"

namespace sluice::tls {
namespace {

// Mozilla's "intermediate" TLS 1.2 suites (forward secret, AEAD only).
constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* kDefaultGroups = "X25519:P-256:P-384";

std::vector<unsigned char> alpn_wire(const std::vector<std::string>& protocols) {
  std::vector<unsigned char> out;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) continue;
    out.push_back(static_cast<unsigned char>(p.size()));
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

EVP_PKEY* ffdhe2048() {
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr);
  EVP_PKEY* pkey = nullptr;
  char group[] = "ffdhe2048";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("group", group, 0),
                               OSSL_PARAM_construct_end()};
  if (pctx != nullptr && EVP_PKEY_paramgen_init(pctx) == 1 &&
      EVP_PKEY_CTX_set_params(pctx, params) == 1) {
    EVP_PKEY_paramgen(pctx, &pkey);
  }
  EVP_PKEY_CTX_free(pctx);
  return pkey;
}

bool failed(std::string& error, const std::string& what) {
  const std::string why = take_openssl_errors();
  error = what + (why.empty() ? "" : ": " + why);
  return false;
}

}  // namespace

std::shared_ptr<ServerContext> ServerContext::create(const ServerSettings& settings,
                                                     std::shared_ptr<const CertificateStore> store,
                                                     TicketKeys* tickets, std::string& error) {
  std::shared_ptr<ServerContext> c(new ServerContext());
  c->settings_ = settings;
  c->store_.store(std::move(store));
  c->alpn_wire_ = alpn_wire(settings.alpn);
  if (!c->configure(tickets, error)) return nullptr;
  return c;
}

ServerContext::~ServerContext() {
  SSL_CTX_free(ctx_);
}

bool ServerContext::configure(TicketKeys* tickets, std::string& error) {
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr) return failed(error, "cannot create a TLS context");
  const auto& s = settings_;
  SSL_CTX_set_min_proto_version(ctx_, s.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  // No renegotiation (CVE-2009-3555 and CPU floods); an end without
  // close_notify is an ordinary end (the application frames its data).
  SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                SSL_OP_IGNORE_UNEXPECTED_EOF | (s.ktls ? SSL_OP_ENABLE_KTLS : 0));
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One recv per arrival rather than one per record header and one per
  // record body; what was read ahead is released with the buffer.
  SSL_CTX_set_read_ahead(ctx_, 1);
  if (SSL_CTX_set_cipher_list(ctx_, s.ciphers.empty() ? kIntermediateCiphers : s.ciphers.c_str()) !=
      1) {
    return failed(error, "ciphers '" + s.ciphers + "' name no usable TLS 1.2 cipher");
  }
  if (!s.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx_, s.ciphersuites.c_str()) != 1) {
    return failed(error, "ciphersuites '" + s.ciphersuites + "' name no TLS 1.3 suite");
  }
  const std::string groups = s.curves.empty() ? kDefaultGroups : s.curves;
  if (SSL_CTX_set1_groups_list(ctx_, groups.c_str()) != 1) {
    return failed(error, "curves '" + groups + "' are not all known groups");
  }
  // DHE suites use the RFC 7919 group ffdhe2048, as Mozilla's intermediate
  // profile says (OpenSSL's automatic choice is an older RFC 3526 prime).
  if (EVP_PKEY* dh = ffdhe2048()) SSL_CTX_set0_tmp_dh_pkey(ctx_, dh);
  if (!install_default_certificates(error)) return false;
  SSL_CTX_set_cert_cb(ctx_, &ServerContext::on_certificate, this);
  if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx_, &ServerContext::on_alpn, this);
  if (!configure_client_auth(error)) return false;
  configure_resumption(tickets);
  return true;
}

// The store's default certificates go into the context itself, so a
// connection starts with them (SSL_new copies the context's references) and
// the certificate callback has nothing to do for a client that asks for a
// name they answer (the default, and in seed 002 750 of 800 sites).
// SSL_use_cert_and_key in the callback checks the key against the
// certificate on every handshake (EVP_PKEY_eq): 23 k instructions of a
// 2.7 M ECDSA handshake, measured with callgrind (bench/load/tls_bench.py
// --instructions). The pair is held here so that the callback's pointer
// comparison cannot meet another certificate at a freed one's address.
bool ServerContext::install_default_certificates(std::string& error) {
  const auto store = store_.load();
  if (!store) return true;
  const CertificateStore::Choice choice = store->find("");
  std::size_t n = 0;
  for (const Certificate* c : {choice.first, choice.second}) {
    if (c == nullptr) continue;
    for (const auto& held : store->certificates()) {
      if (held.get() == c) installed_[n] = held;
    }
    if (SSL_CTX_use_cert_and_key(ctx_, c->leaf(), c->key(), c->chain(), 1) != 1) {
      return failed(error, "cannot use certificate " + c->origin());
    }
    ++n;
  }
  return true;
}

bool ServerContext::configure_client_auth(std::string& error) {
  const auto& s = settings_;
  if (s.client_ca.empty()) return true;
  if (SSL_CTX_load_verify_locations(ctx_, s.client_ca.c_str(), nullptr) != 1) {
    return failed(error, "cannot load client CA file " + s.client_ca);
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.client_ca.c_str());
  if (names == nullptr) return failed(error, "no CA certificate in " + s.client_ca);
  SSL_CTX_set_client_CA_list(ctx_, names);  // sent in the CertificateRequest
  SSL_CTX_set_verify(
      ctx_, SSL_VERIFY_PEER | (s.client_cert_required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
      nullptr);
  SSL_CTX_set_verify_depth(ctx_, 8);
  return true;
}

void ServerContext::configure_resumption(TicketKeys* tickets) {
  const auto& s = settings_;
  // Sessions resume only on the listener (and client-CA setting) that made
  // them: RFC 5246 §7.4.1.2 leaves the check to the server.
  const std::string id_context = s.name + (s.client_ca.empty() ? "" : "|" + s.client_ca);
  unsigned char digest[SSL_MAX_SID_CTX_LENGTH];
  const std::size_t n = std::min(id_context.size(), sizeof digest);
  std::memcpy(digest, id_context.data(), n);
  SSL_CTX_set_session_id_context(ctx_, digest, static_cast<unsigned>(n));
  SSL_CTX_set_timeout(ctx_, static_cast<long>(s.session_timeout_s));
  if (s.session_cache_size > 0) {
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx_, static_cast<long>(s.session_cache_size));
  } else {
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  }
  if (s.session_tickets && tickets != nullptr) {
    tickets->install(ctx_);
    SSL_CTX_set_num_tickets(ctx_, 1);  // one is enough for a client that reconnects
  } else {
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    if (s.session_cache_size == 0) SSL_CTX_set_num_tickets(ctx_, 0);
  }
}

SSL* ServerContext::new_ssl() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl != nullptr) SSL_set_accept_state(ssl);
  return ssl;
}

// Called once the ClientHello (with its SNI) is read: presents the
// certificate(s) for the name asked for. A name nobody answers for gets the
// default, as every other server does; the client's name check decides.
int ServerContext::on_certificate(SSL* ssl, void* self) {
  const auto* ctx = static_cast<const ServerContext*>(self);
  const auto store = ctx->store_.load();
  if (!store) return 0;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const CertificateStore::Choice choice = store->find(name == nullptr ? "" : name);
  if (choice.first == ctx->installed_[0].get() && choice.second == ctx->installed_[1].get()) {
    return choice.first != nullptr ? 1 : 0;  // the connection has them from the context
  }
  // Another pair: none of the context's may stay, or a client whose
  // signature algorithms allow only the default's key kind would get it.
  SSL_certs_clear(ssl);
  for (const Certificate* c : {choice.first, choice.second}) {
    if (c == nullptr) continue;
    if (SSL_use_cert_and_key(ssl, c->leaf(), c->key(), c->chain(), 1) != 1) return 0;
  }
  return choice.first != nullptr ? 1 : 0;
}

// RFC 7301 §3.2: our preference among what the client offers. No protocol
// in common: go on without ALPN rather than fail (an HTTP/1.1 client that
// offers only names we do not know still speaks HTTP/1.1).
int ServerContext::on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                           const unsigned char* in, unsigned int inlen, void* self) {
  const auto* ctx = static_cast<const ServerContext*>(self);
  unsigned char* chosen = nullptr;
  const int r = SSL_select_next_proto(&chosen, outlen, ctx->alpn_wire_.data(),
                                      static_cast<unsigned>(ctx->alpn_wire_.size()), in, inlen);
  if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace sluice::tls
