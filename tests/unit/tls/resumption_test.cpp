// Session resumption on a listener: tickets sealed with the process's
// keys survive a reload (a new context built with the same keys) and one
// key rotation, not two; without tickets the session cache resumes; a
// client resumes with the session its destination's slot kept. Real
// OpenSSL handshakes over an in-memory BIO pair.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "support/temp_dir.h"
#include "support/test_pki.h"
#include "tls/certificate_cache.h"
#include "tls/certificate_store.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "tls/ticket_keys.h"

namespace sluice::tls {
namespace {

// Drives both sides until the handshake is done and the client has read
// what the server sent after it (TLS 1.3 tickets). False on a failure.
bool handshake(SSL* client, SSL* server) {
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  BIO_new_bio_pair(&client_end, 0, &server_end, 0);
  SSL_set_bio(client, client_end, client_end);
  SSL_set_bio(server, server_end, server_end);
  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client);
      client_done = r == 1;
      if (r != 1 && SSL_get_error(client, r) != SSL_ERROR_WANT_READ) return false;
    }
    if (!server_done) {
      const int r = SSL_do_handshake(server);
      server_done = r == 1;
      if (r != 1 && SSL_get_error(server, r) != SSL_ERROR_WANT_READ) return false;
    }
  }
  char byte;
  SSL_read(client, &byte, 1);  // takes in the tickets; nothing else comes
  return client_done && server_done;
}

// An orderly end on both sides: OpenSSL forgets the session of a
// connection freed without one.
void close(SSL* client, SSL* server) {
  SSL_shutdown(client);
  SSL_shutdown(server);
  SSL_free(client);
  SSL_free(server);
}

class Resumption : public ::testing::Test {
 protected:
  Resumption() {
    test::CertSpec spec;
    spec.dns_names = {"a.example.com"};
    const auto issued = pki.issue("a", spec);
    std::string error;
    auto cert = cache.load(issued.cert_path, issued.key_path, error);
    store = std::make_shared<const CertificateStore>(
        std::vector<std::shared_ptr<const Certificate>>{cert});
    ClientSettings cs;
    cs.ca = pki.ca_path();
    client_ctx = ClientContext::create(cs, error);
  }

  std::shared_ptr<ServerContext> listener(ServerSettings s = {}) {
    s.name = "web";
    std::string error;
    auto ctx = ServerContext::create(s, store, &keys, error);
    EXPECT_TRUE(ctx) << error;
    return ctx;
  }

  // One connection: true when it resumed. Stores the session in `slot`.
  bool connect(const ServerContext& server, ResumptionSlot& slot) {
    SSL* c = client_ctx->new_ssl("a.example.com", "a.example.com", &slot);
    SSL* s = server.new_ssl();
    const bool ok = handshake(c, s);
    EXPECT_TRUE(ok);
    const bool reused = ok && SSL_session_reused(s) == 1;
    EXPECT_EQ(reused, SSL_session_reused(c) == 1);
    close(c, s);
    return reused;
  }

  test::TempDir dir;
  test::TestPki pki{dir.path().string()};
  CertificateCache cache;
  TicketKeys keys;
  std::shared_ptr<const CertificateStore> store;
  std::shared_ptr<ClientContext> client_ctx;
};

TEST_F(Resumption, ATicketOutlivesAReloadAndOneRotationButNotTwo) {
  // Each case starts from a full handshake's ticket (OpenSSL's client
  // takes a ticket once; the one a resumed connection gets may come late).
  ResumptionSlot reload;
  EXPECT_FALSE(connect(*listener(), reload));
  EXPECT_TRUE(connect(*listener(), reload)) << "a new context (a reload) with the same keys";

  ResumptionSlot rotated_once;
  EXPECT_FALSE(connect(*listener(), rotated_once));
  keys.rotate();
  EXPECT_TRUE(connect(*listener(), rotated_once)) << "the previous key still opens tickets";

  ResumptionSlot rotated_twice;
  EXPECT_FALSE(connect(*listener(), rotated_twice));
  keys.rotate();
  keys.rotate();
  EXPECT_FALSE(connect(*listener(), rotated_twice)) << "a key two rotations old is gone";
}

TEST_F(Resumption, WithoutTicketsTheSessionCacheResumesTls12) {
  ServerSettings s;
  s.session_tickets = false;
  const auto ctx = listener(s);
  // TLS 1.2: session ids and the server's cache (TLS 1.3 without tickets
  // has nothing to resume with in OpenSSL's client).
  SSL_CTX* tls12 = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(tls12, TLS1_2_VERSION);
  SSL_SESSION* session = nullptr;
  for (int i = 0; i < 2; ++i) {
    SSL* c = SSL_new(tls12);
    SSL_set_connect_state(c);
    if (session != nullptr) SSL_set_session(c, session);
    SSL* srv = ctx->new_ssl();
    ASSERT_TRUE(handshake(c, srv));
    EXPECT_EQ(SSL_session_reused(srv) == 1, i == 1);
    SSL_SESSION_free(session);
    session = SSL_get1_session(c);
    close(c, srv);
  }
  SSL_SESSION_free(session);
  SSL_CTX_free(tls12);
}

TEST_F(Resumption, NoTicketsAndNoCacheMeansNoResumption) {
  ServerSettings s;
  s.session_tickets = false;
  s.session_cache_size = 0;
  const auto ctx = listener(s);
  ResumptionSlot slot;
  EXPECT_FALSE(connect(*ctx, slot));
  EXPECT_FALSE(connect(*ctx, slot));
}

TEST_F(Resumption, AnotherListenerDoesNotTakeTheSession) {
  ResumptionSlot slot;
  EXPECT_FALSE(connect(*listener(), slot));
  ASSERT_TRUE(connect(*listener(), slot));
  ServerSettings other;
  other.name = "admin-api";
  std::string error;
  // The same ticket keys, another session id context.
  auto ctx = ServerContext::create(other, store, &keys, error);
  ASSERT_TRUE(ctx) << error;
  EXPECT_FALSE(connect(*ctx, slot)) << "a session is resumed only where it was made";
}

}  // namespace
}  // namespace sluice::tls
