// HTTP/2 to backends (issue 17, "Upstream"): `protocol: h2c` and `h2`
// against a real nginx speaking HTTP/2 (cleartext with prior knowledge, and
// TLS with ALPN h2), reached by HTTP/1.1 and HTTP/2 clients; many requests
// multiplexed on few connections; another connection when the server's
// SETTINGS_MAX_CONCURRENT_STREAMS is reached; a POST the server did not
// process (REFUSED_STREAM, or above a GOAWAY's last-stream-id) sent again
// (RFC 9113 §8.7); health checks that speak HTTP/2.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/h2_frames.h"
#include "support/h2_test_server.h"
#include "support/http_client.h"
#include "support/nginx_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

constexpr auto kEventTimeout = std::chrono::seconds(10);

std::string server_of(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

HttpResponse send(SluiceInstance& sluice, const std::string& request) {
  RawConnection c(sluice.port("web"));
  if (!c.send(request)) return {};
  return c.read_response().value_or(HttpResponse{});
}

HttpResponse get(SluiceInstance& sluice, const std::string& path = "/") {
  return send(sluice,
              "GET " + path + " HTTP/1.1\r\nHost: sluice.test\r\nConnection: close\r\n\r\n");
}

HttpResponse post(SluiceInstance& sluice, const std::string& path, const std::string& body) {
  return send(sluice, "POST " + path +
                          " HTTP/1.1\r\nHost: sluice.test\r\nConnection: close\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body);
}

// curl over HTTP/2 with prior knowledge (h2c) to sluice's 'web' listener.
CommandResult curl_h2c(SluiceInstance& sluice, const std::string& path = "/",
                       std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"curl", "-sS", "-i", "--http2-prior-knowledge", "--max-time", "20"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("http://127.0.0.1:" + std::to_string(sluice.port("web")) + path);
  return run_command(argv);
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

NginxOptions h2c_nginx() {
  NginxOptions o;
  o.http2 = true;
  o.protocol_headers = true;
  return o;
}

// ---- h2c to nginx

TEST(H2Backend, H2cBackendGetsHttp1ClientRequestsOverHttp2) {
  NginxInstance nginx(h2c_nginx());
  SluiceInstance sluice(one_backend_config(server_of(nginx.port()), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  const HttpResponse r = get(sluice, "/page?x=1");
  EXPECT_EQ(r.status, 200) << sluice.process().output() << nginx.error_log();
  EXPECT_EQ(r.body, "hello from nginx");
  EXPECT_EQ(r.header("x-server-protocol").value_or(""), "HTTP/2.0");
  ASSERT_TRUE(nginx.wait_for_requests(1));
  EXPECT_TRUE(has(nginx.access_log(), "request=\"GET /page?x=1 HTTP/2.0\"")) << nginx.access_log();
}

TEST(H2Backend, H2cBackendGetsH2ClientRequestsOverHttp2) {
  NginxInstance nginx(h2c_nginx());
  SluiceInstance sluice(one_backend_config(server_of(nginx.port()), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  const CommandResult r = curl_h2c(sluice, "/from-h2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "HTTP/2 200")) << r.output;
  EXPECT_TRUE(has(r.output, "x-server-protocol: HTTP/2.0")) << r.output;
  EXPECT_TRUE(has(r.output, "hello from nginx")) << r.output;
  ASSERT_TRUE(nginx.wait_for_requests(1));
  EXPECT_TRUE(has(nginx.access_log(), "request=\"GET /from-h2 HTTP/2.0\"")) << nginx.access_log();
}

TEST(H2Backend, RequestBodyReachesAnH2cBackend) {
  H2TestServer server;
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string body(100'000, 'b');  // more than one window's worth of DATA
  const HttpResponse r = post(sluice, "/upload", body);
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "POST /upload 100000");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body, body);
}

// The whole answer (head, DATA and END_STREAM) comes in one read: its
// length is the DATA's, not the nothing an ended stream would mean.
TEST(H2Backend, ResponseWithoutContentLengthArrivesWhole) {
  H2ServerScript script;
  script.content_length = false;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = get(sluice, "/whole");
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "GET /whole 0");
  const CommandResult c = curl_h2c(sluice, "/whole-h2");
  EXPECT_TRUE(has(c.output, "GET /whole-h2 0")) << c.output;
}

// RFC 9112 §6.3: a response to HEAD ends with its head. From an HTTP/2
// server the end of the stream comes apart from the head, so the relay
// waits for it; the client's connection then carries the next request.
TEST(H2Backend, AHeadAnsweredByAnH2cServerEndsWithItsHeadAndTheConnectionGoesOn) {
  NginxInstance nginx(h2c_nginx());
  SluiceInstance sluice(one_backend_config(server_of(nginx.port()), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("HEAD /page HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
    const auto head = c.read_response(true);
    ASSERT_TRUE(head.has_value()) << sluice.process().output();
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("content-length").value_or(""), "16");  // the GET's body, not sent
    EXPECT_EQ(head->body, "");
  }
  ASSERT_TRUE(c.send("GET /page HTTP/1.1\r\nHost: sluice.test\r\nConnection: close\r\n\r\n"));
  const auto get_after = c.read_response();
  ASSERT_TRUE(get_after.has_value()) << sluice.process().output();
  EXPECT_EQ(get_after->status, 200);
  EXPECT_EQ(get_after->body, "hello from nginx");
  EXPECT_EQ(c.leftover(), "");  // nothing after the answers: the HEADs had no body
  ASSERT_TRUE(nginx.wait_for_requests(4));
  EXPECT_TRUE(has(nginx.access_log(), "request=\"HEAD /page HTTP/2.0\"")) << nginx.access_log();
}

// ---- multiplexing

TEST(H2Backend, ConcurrentRequestsShareOneH2Connection) {
  NginxInstance nginx(h2c_nginx());
  SluiceInstance sluice(one_backend_config(server_of(nginx.port()), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  constexpr int kClients = 20;
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(clients.back()->send("GET /" + std::to_string(i) +
                                     " HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  }
  for (auto& c : clients) {
    const auto r = c->read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  // And once more on each client connection: the h2 connection stays.
  for (auto& c : clients) {
    ASSERT_TRUE(c->send("GET /again HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
    const auto r = c->read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(nginx.wait_for_requests(2 * kClients));
  EXPECT_EQ(nginx.connections_seen(), 1) << nginx.access_log();
}

// The server allows 2 streams per connection and answers only once 4
// requests are open at once: sluice must open a second connection.
TEST(H2Backend, ServerMaxConcurrentStreamsMakesSluiceOpenAnotherConnection) {
  H2ServerScript script;
  script.max_concurrent_streams = 2;
  script.hold_until_open = 4;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(clients.back()->send("GET /" + std::to_string(i) +
                                     " HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  }
  for (auto& c : clients) {
    const auto r = c->read_response();
    ASSERT_TRUE(r.has_value()) << sluice.process().output();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.max_open_per_connection(), 2);
  EXPECT_EQ(server.max_open(), 4);
}

// pool.max_h2_connections bounds the connections per server (and worker):
// a server that takes one stream at a time gets two connections for four
// requests at once, the other two streams waiting for a slot; every
// request is answered.
TEST(H2Backend, MaxH2ConnectionsBoundsTheConnectionsAndStreamsWaitForASlot) {
  H2ServerScript script;
  script.max_concurrent_streams = 1;
  script.hold_until_open = 2;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(
      server.address(), "    protocol: h2c\n    pool: {max_h2_connections: 2}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(clients.back()->send("GET /" + std::to_string(i) +
                                     " HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  }
  for (auto& c : clients) {
    const auto r = c->read_response();
    ASSERT_TRUE(r.has_value()) << sluice.process().output();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(server.max_open_per_connection(), 1);
}

// Answers without a length, each followed by `count` trailer fields
// (x-t0, x-t1, ...), held back until released when `hold`.
H2ServerScript trailing(int count, bool hold) {
  H2ServerScript script;
  script.content_length = false;
  script.hold_trailers = hold;
  for (int i = 0; i < count; ++i)
    script.trailers.push_back({"x-t" + std::to_string(i), "v"});
  return script;
}

// An h2 server's trailing HEADERS over the field limits (200 fields): the
// codec keeps only those that fit, so relaying them would drop the rest
// (gRPC's status among them) unseen. The response fails as an HTTP/1 one
// with an oversized trailer section does, and none of the fields that fit
// reaches the client; a server with a few trailers gets them relayed.
TEST(H2Backend, ResponseTrailersOverTheLimitFailTheResponseAndNoneIsRelayed) {
  H2TestServer server(trailing(250, false));
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /rpc HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  // A 502 if it failed before the head left, else a chunked body that
  // never ends: either way no complete 200 and none of the trailers.
  const auto r = client.read_response();
  EXPECT_TRUE(!r || r->status == 502) << "a complete response, status " << (r ? r->status : 0);
  EXPECT_EQ(client.leftover().find("x-t0"), std::string::npos) << client.leftover();
  EXPECT_TRUE(sluice.process().wait_for_line("response trailer fields too large"))
      << sluice.process().output();

  H2ServerScript few;
  few.content_length = false;
  few.trailers = {{"grpc-status", "0"}, {"x-checksum", "42"}};
  H2TestServer small(few);
  SluiceInstance relaying(one_backend_config(small.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(relaying.ready()) << relaying.process().output();
  const CommandResult relayed = curl_h2c(relaying, "/rpc", {"--raw"});
  EXPECT_NE(relayed.output.find("grpc-status: 0"), std::string::npos) << relayed.output;
  EXPECT_NE(relayed.output.find("x-checksum: 42"), std::string::npos) << relayed.output;
}

// The same limit once the head and data have been relayed: the trailers
// come later, so the response cannot become a 502. The client's chunked
// body is cut off (no last chunk, so it cannot pass for complete) and none
// of the fields is relayed. Trailers within the limits that come late are
// relayed as the last chunk's trailer section.
TEST(H2Backend, ResponseTrailersOverTheLimitAfterTheHeadLeftCutTheBodyShort) {
  H2TestServer server(trailing(250, true));
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /rpc HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  ASSERT_TRUE(client.read_until("GET /rpc 0\r\n")) << client.leftover();
  EXPECT_EQ(client.leftover().rfind("HTTP/1.1 200 ", 0), 0u) << client.leftover();
  server.release_trailers();
  EXPECT_TRUE(client.wait_closed()) << client.leftover();
  EXPECT_EQ(client.leftover().find("\r\n0\r\n"), std::string::npos) << client.leftover();
  EXPECT_EQ(client.leftover().find("x-t"), std::string::npos) << client.leftover();
  EXPECT_TRUE(sluice.process().wait_for_line("response trailer fields too large"))
      << sluice.process().output();

  H2ServerScript few;
  few.content_length = false;
  few.hold_trailers = true;
  few.trailers = {{"grpc-status", "0"}, {"x-checksum", "42"}};
  H2TestServer small(few);
  SluiceInstance relaying(one_backend_config(small.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(relaying.ready()) << relaying.process().output();
  RawConnection late(relaying.port("web"));
  ASSERT_TRUE(late.send("GET /rpc HTTP/1.1\r\nHost: sluice.test\r\nTE: trailers\r\n\r\n"));
  ASSERT_TRUE(late.read_until("GET /rpc 0\r\n")) << late.leftover();
  small.release_trailers();
  const auto r = late.read_response();
  ASSERT_TRUE(r) << late.leftover();
  EXPECT_EQ(r->body, "GET /rpc 0");
  EXPECT_NE(r->raw_trailers.find("grpc-status: 0\r\n"), std::string::npos) << r->raw_trailers;
  EXPECT_NE(r->raw_trailers.find("x-checksum: 42\r\n"), std::string::npos) << r->raw_trailers;
}

// ---- RFC 9113 §8.7: not processed, so sent again whatever the method

TEST(H2Backend, PostRefusedWithRefusedStreamIsSentAgain) {
  H2ServerScript script;
  script.refuse_streams = 1;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = post(sluice, "/order", "item=1");
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "POST /order 6");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_FALSE(seen[0].answered);
  EXPECT_TRUE(seen[1].answered);
  EXPECT_EQ(seen[1].body, "item=1");
  EXPECT_TRUE(sluice.process().wait_for_line("retrying POST", kEventTimeout));
}

TEST(H2Backend, PostAboveGoawayLastStreamIdIsSentAgainOnANewConnection) {
  H2ServerScript script;
  script.goaway_connections = 1;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = post(sluice, "/order", "item=2");
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "POST /order 6");
  EXPECT_EQ(server.connections(), 2);
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].connection, 1);
  EXPECT_FALSE(seen[0].answered);
  EXPECT_EQ(seen[1].connection, 2);
  EXPECT_TRUE(seen[1].answered);
}

// ---- TLS with ALPN h2

TEST(H2Backend, H2BackendOverTlsAgreesOnH2AndServesBothKindsOfClient) {
  TempDir dir;
  TestPki pki(dir.path().string());
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  const IssuedCert cert = pki.issue("server", spec);
  NginxOptions o;
  o.tls = true;
  o.http2 = true;
  o.protocol_headers = true;
  o.cert_path = cert.cert_path;
  o.key_path = cert.key_path;
  NginxInstance nginx(o);
  SluiceInstance sluice(one_backend_config(
      server_of(nginx.port()),
      "    protocol: h2\n    tls: {ca: " + pki.ca_path() + ", sni: backend.test}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  const HttpResponse r = get(sluice, "/secure");
  EXPECT_EQ(r.status, 200) << sluice.process().output() << nginx.error_log();
  EXPECT_EQ(r.header("x-server-protocol").value_or(""), "HTTP/2.0");
  const CommandResult c = curl_h2c(sluice, "/secure-h2");
  EXPECT_TRUE(has(c.output, "HTTP/2 200")) << c.output;
  EXPECT_TRUE(has(c.output, "x-server-protocol: HTTP/2.0")) << c.output;
  ASSERT_TRUE(nginx.wait_for_requests(2));
  const std::string log = nginx.access_log();
  EXPECT_TRUE(has(log, "request=\"GET /secure HTTP/2.0\"")) << log;
  EXPECT_TRUE(has(log, "request=\"GET /secure-h2 HTTP/2.0\"")) << log;
  EXPECT_TRUE(has(log, "sni=backend.test")) << log;
  EXPECT_EQ(nginx.connections_seen(), 1) << log;
}

// A TLS server that ignores ALPN (openssl s_server without -alpn)
// completes the handshake having agreed on nothing: no HTTP/2 is sent to it.
TEST(H2Backend, H2BackendThatDoesNotAgreeOnH2GetsA502AndALogLine) {
  TempDir dir;
  TestPki pki(dir.path().string());
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  const IssuedCert cert = pki.issue("server", spec);
  const std::uint16_t port = free_loopback_port();
  Process server({"openssl", "s_server", "-www", "-accept", "127.0.0.1:" + std::to_string(port),
                  "-cert", cert.cert_path, "-key", cert.key_path, "-naccept", "4"});
  ASSERT_TRUE(server.wait_for_line("ACCEPT", kEventTimeout)) << server.output();
  SluiceInstance sluice(
      one_backend_config(server_of(port), "    protocol: h2\n    tls: {ca: " + pki.ca_path() +
                                              ", sni: backend.test}\n"
                                              "    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(get(sluice).status, 502);
  EXPECT_TRUE(sluice.process().wait_for_line(
      "the server did not agree to HTTP/2 by ALPN (no protocol)", kEventTimeout))
      << sluice.process().output();
}

// ---- health checks over h2

// An nginx that speaks only h2c closes on an HTTP/1.1 probe; probes over
// HTTP/2 find it up, and requests keep flowing.
TEST(H2Backend, HealthChecksSpeakHttp2ToAnH2cServer) {
  NginxInstance nginx(h2c_nginx());
  SluiceInstance sluice(one_backend_config(
      server_of(nginx.port()),
      "    protocol: h2c\n"
      "    health_check: {path: /healthz, interval: 100ms, timeout: 1s, rise: 1, fall: 1}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(nginx.wait_for_requests(3));
  EXPECT_TRUE(has(nginx.access_log(), "status=200 request=\"GET /healthz HTTP/2.0\""))
      << nginx.access_log();
  EXPECT_EQ(get(sluice).status, 200);
  EXPECT_FALSE(has(sluice.process().output(), ": down (")) << sluice.process().output();
}

TEST(H2Backend, H2HealthCheckWithAnUnexpectedStatusMarksTheServerDown) {
  H2TestServer server;
  SluiceInstance sluice(one_backend_config(
      server.address(),
      "    protocol: h2c\n"
      "    health_check: {path: /healthz, expect_status: [204], interval: 100ms, rise: 1, "
      "fall: 1}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_TRUE(sluice.process().wait_for_line("backend 'app' server " + server.address() +
                                                 ": down (1 failed check in a row, last: "
                                                 "status 200)",
                                             kEventTimeout))
      << sluice.process().output();
  EXPECT_EQ(get(sluice).status, 503);
}

// RFC 9110 §15.2: a proxy forwards the 1xx responses it did not ask for.
// An h2 server's 103 Early Hints (RFC 8297) reach an HTTP/1.1 client as
// interim responses before the answer, in order, with their fields.
TEST(H2Backend, EarlyHintsFromAnH2ServerReachAnHttp11Client) {
  H2ServerScript script;
  script.early_hints = 2;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send("GET /page HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  for (int i = 1; i <= 2; ++i) {
    const auto hint = c.read_response(false, 10000, true);
    ASSERT_TRUE(hint) << "hint " << i;
    EXPECT_EQ(hint->status, 103);
    EXPECT_EQ(hint->header("link").value_or(""),
              "</hint" + std::to_string(i) + ".css>; rel=preload");
  }
  const auto answer = c.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "GET /page 0");
  // The connection goes on.
  ASSERT_TRUE(c.send("GET /next HTTP/1.1\r\nHost: sluice.test\r\n\r\n"));
  const auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST(H2Backend, EarlyHintsFromAnH2ServerReachAnHttp2Client) {
  H2ServerScript script;
  script.early_hints = 1;
  H2TestServer server(script);
  SluiceInstance sluice(one_backend_config(server.address(), "    protocol: h2c\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  h2::H2Connection client(sluice.port("web"));
  ASSERT_TRUE(client.handshake());
  const h2::StreamResult r = client.request(h2::request_fields("GET", "sluice.test", "/page"));
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body, "GET /page 0");
  ASSERT_EQ(r.informational.size(), 1u);
  bool saw_link = false;
  for (const auto& [name, value] : r.informational[0]) {
    if (name == ":status") {
      EXPECT_EQ(value, "103");
    }
    if (name == "link") saw_link = value == "</hint1.css>; rel=preload";
  }
  EXPECT_TRUE(saw_link);
}

}  // namespace
}  // namespace sluice::test
