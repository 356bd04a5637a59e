// TLS to backends (issue 16), end to end against a real nginx TLS backend
// with certificates made at test time: verification passing and failing
// (each failure a 502 and one log line saying why), the server name sent
// and checked, pooled TLS connections, resumption, client certificates,
// pools kept apart by TLS parameters, retries past a server that fails
// verification, and health checks that speak TLS.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/nginx_instance.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

// A CA and the directory its certificates are written to.
struct Pki {
  TempDir dir;
  TestPki pki{dir.path().string()};

  IssuedCert issue(const std::string& stem, std::vector<std::string> dns,
                   std::vector<std::string> ips = {}) {
    CertSpec spec;
    spec.dns_names = std::move(dns);
    spec.ip_addresses = std::move(ips);
    return pki.issue(stem, spec);
  }
};

NginxOptions tls_nginx(const IssuedCert& cert, const std::string& body = "hello from nginx") {
  NginxOptions o;
  o.tls = true;
  o.cert_path = cert.cert_path;
  o.key_path = cert.key_path;
  o.body = body;
  return o;
}

std::string server_of(const NginxInstance& nginx) {
  return "127.0.0.1:" + std::to_string(nginx.port());
}

// GET `path` through sluice's 'web' listener on a connection of its own.
HttpResponse get(SluiceInstance& sluice, const std::string& path = "/") {
  RawConnection c(sluice.port("web"));
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: sluice.test\r\nConnection: close\r\n\r\n"))
    return {};
  return c.read_response().value_or(HttpResponse{});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// The value of `key=` in one of nginx's access log lines.
std::string field(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  if (at == std::string::npos) return "<no " + key + ">";
  const auto begin = at + key.size() + 2;
  return line.substr(begin, line.find(' ', begin) - begin);
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

// A backend 'app' on `servers` with `tls` as its tls block.
std::string tls_config(const std::string& servers, const std::string& tls,
                       const std::string& more = "") {
  return one_backend_config(servers, "    tls: " + tls + "\n" + more);
}

// One request to a backend whose certificate fails verification: the
// client gets 502, and sluice's log has one line naming the backend, the
// server and OpenSSL's reason.
void expect_verification_failure(const NginxInstance& nginx, const std::string& tls,
                                 const std::string& reason) {
  SluiceInstance sluice(tls_config(server_of(nginx), tls));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(get(sluice).status, 502);
  const std::string where = "backend 'app' server " + server_of(nginx) + ": TLS handshake failed: ";
  const auto line = sluice.process().wait_for_line(where, std::chrono::seconds(5));
  ASSERT_TRUE(line) << sluice.process().output();
  EXPECT_NE(line->find("certificate verify failed"), std::string::npos) << *line;
  EXPECT_NE(line->find(reason), std::string::npos) << *line;
  EXPECT_EQ(count(sluice.process().output(), "TLS handshake failed"), 1u)
      << sluice.process().output();
  EXPECT_EQ(nginx.access_log(), "");  // no request reached it
}

TEST(TlsBackend, VerifiedServerAnswersThroughSluice) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("server", {"backend.test"})));
  SluiceInstance sluice(
      tls_config(server_of(nginx), "{ca: " + p.pki.ca_path() + ", sni: backend.test}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = get(sluice);
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "hello from nginx");
  ASSERT_TRUE(nginx.wait_for_requests(1));
  const std::string line = lines_of(nginx.access_log()).at(0);
  EXPECT_EQ(field(line, "sni"), "backend.test") << line;
  EXPECT_EQ(field(line, "proto").rfind("TLSv1.", 0), 0u) << line;
}

TEST(TlsBackend, ServerCertificateFromAnotherCaIsA502SayingWhy) {
  Pki p;
  Pki other;
  NginxInstance nginx(tls_nginx(other.issue("server", {"backend.test"})));
  expect_verification_failure(nginx, "{ca: " + p.pki.ca_path() + ", sni: backend.test}",
                              "certificate");
}

TEST(TlsBackend, ServerCertificateForAnotherNameIsA502SayingWhy) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("server", {"backend.test"})));
  expect_verification_failure(nginx, "{ca: " + p.pki.ca_path() + ", sni: other.test}", "mismatch");
}

TEST(TlsBackend, ExpiredServerCertificateIsA502SayingWhy) {
  Pki p;
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  spec.valid_from_days = -10;
  spec.valid_days = 5;
  NginxInstance nginx(tls_nginx(p.pki.issue("expired", spec)));
  expect_verification_failure(nginx, "{ca: " + p.pki.ca_path() + ", sni: backend.test}", "expired");
}

TEST(TlsBackend, SelfSignedServerCertificateIsA502SayingWhy) {
  Pki p;
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  NginxInstance nginx(tls_nginx(TestPki::self_signed(p.dir.path().string(), "self", spec)));
  expect_verification_failure(nginx, "{ca: " + p.pki.ca_path() + ", sni: backend.test}",
                              "self-signed");
}

TEST(TlsBackend, VerifyFalseAcceptsSelfSignedCertificate) {
  Pki p;
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  NginxInstance nginx(tls_nginx(TestPki::self_signed(p.dir.path().string(), "self", spec)));
  SluiceInstance sluice(tls_config(server_of(nginx), "{verify: false, sni: backend.test}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = get(sluice);
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "hello from nginx");
}

// No `sni`: a server named by host name sends that name and its
// certificate must carry it.
// True where [::1] can be bound: "localhost" may then resolve to it first
// (a fresh Debian root does), so a backend named so must listen there too.
bool has_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

NginxOptions on_localhost(NginxOptions o) {
  o.ipv6_loopback_too = has_ipv6_loopback();
  return o;
}

TEST(TlsBackend, ServerGivenByHostNameSendsAndVerifiesThatName) {
  Pki p;
  NginxInstance nginx(on_localhost(tls_nginx(p.issue("localhost", {"localhost"}))));
  SluiceInstance sluice(
      tls_config("localhost:" + std::to_string(nginx.port()), "{ca: " + p.pki.ca_path() + "}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(get(sluice).status, 200) << sluice.process().output();
  ASSERT_TRUE(nginx.wait_for_requests(1));
  EXPECT_EQ(field(lines_of(nginx.access_log()).at(0), "sni"), "localhost") << nginx.access_log();

  // The same server with a certificate for another name: refused.
  NginxInstance elsewhere(on_localhost(tls_nginx(p.issue("elsewhere", {"elsewhere.test"}))));
  SluiceInstance refused(
      tls_config("localhost:" + std::to_string(elsewhere.port()), "{ca: " + p.pki.ca_path() + "}"));
  ASSERT_TRUE(refused.ready()) << refused.process().output();
  EXPECT_EQ(get(refused).status, 502);
  EXPECT_TRUE(refused.process().wait_for_line("mismatch", std::chrono::seconds(5)))
      << refused.process().output();
}

// No `sni`: a server given as an IP address sends no SNI (RFC 6066 §3)
// and its certificate must carry that address.
TEST(TlsBackend, ServerGivenByIpAddressIsVerifiedAgainstItsIpSan) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("ip", {"backend.test"}, {"127.0.0.1"})));
  SluiceInstance sluice(tls_config(server_of(nginx), "{ca: " + p.pki.ca_path() + "}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(get(sluice).status, 200) << sluice.process().output();
  ASSERT_TRUE(nginx.wait_for_requests(1));
  EXPECT_EQ(field(lines_of(nginx.access_log()).at(0), "sni"), "-") << nginx.access_log();

  // A certificate with the name but not the address: refused.
  NginxInstance no_ip(tls_nginx(p.issue("no-ip", {"backend.test"})));
  SluiceInstance refused(tls_config(server_of(no_ip), "{ca: " + p.pki.ca_path() + "}"));
  ASSERT_TRUE(refused.ready()) << refused.process().output();
  EXPECT_EQ(get(refused).status, 502);
  EXPECT_TRUE(refused.process().wait_for_line("mismatch", std::chrono::seconds(5)))
      << refused.process().output();
}

TEST(TlsBackend, SequentialRequestsShareOnePooledTlsConnection) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("server", {"backend.test"})));
  SluiceInstance sluice(
      tls_config(server_of(nginx), "{ca: " + p.pki.ca_path() + ", sni: backend.test}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(get(sluice, "/" + std::to_string(i)).status, 200) << i;
  ASSERT_TRUE(nginx.wait_for_requests(20));
  EXPECT_EQ(nginx.connections_seen(), 1) << nginx.access_log();
}

// pool.reuse: never opens a connection per request; each after the first
// resumes the session the server gave the one before (RFC 8446 §2.2).
TEST(TlsBackend, NewConnectionsResumeTheServersSession) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("server", {"backend.test"})));
  SluiceInstance sluice(tls_config(server_of(nginx),
                                   "{ca: " + p.pki.ca_path() + ", sni: backend.test}",
                                   "    pool: {reuse: never}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(get(sluice).status, 200) << i;
  ASSERT_TRUE(nginx.wait_for_requests(5));
  EXPECT_EQ(nginx.connections_seen(), 5) << nginx.access_log();
  const auto lines = lines_of(nginx.access_log());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(field(lines[0], "reused"), ".") << lines[0];
  for (std::size_t i = 1; i < lines.size(); ++i)
    EXPECT_EQ(field(lines[i], "reused"), "r") << lines[i];
}

TEST(TlsBackend, ClientCertificateIsPresentedToABackendThatRequiresOne) {
  Pki p;
  NginxOptions o = tls_nginx(p.issue("server", {"backend.test"}));
  o.client_ca_path = p.pki.ca_path();
  NginxInstance nginx(o);
  CertSpec spec;
  spec.common_name = "sluice-client";
  spec.client = true;
  const IssuedCert client = p.pki.issue("client", spec);
  SluiceInstance sluice(tls_config(
      server_of(nginx), "{ca: " + p.pki.ca_path() + ", sni: backend.test, certificate: " +
                            client.cert_path + ", key: " + client.key_path + "}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = get(sluice);
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "hello from nginx");
  ASSERT_TRUE(nginx.wait_for_requests(1));
  EXPECT_NE(nginx.access_log().find("client=\"CN=sluice-client\""), std::string::npos)
      << nginx.access_log();
}

// Over TLS 1.3 the handshake completes without a certificate and nginx
// refuses the request itself ("No required SSL certificate was sent"):
// the client sees nginx's 400, passed on.
TEST(TlsBackend, BackendRequiringClientCertificateRefusesSluiceWithoutOne) {
  Pki p;
  NginxOptions o = tls_nginx(p.issue("server", {"backend.test"}));
  o.client_ca_path = p.pki.ca_path();
  NginxInstance nginx(o);
  SluiceInstance sluice(
      tls_config(server_of(nginx), "{ca: " + p.pki.ca_path() + ", sni: backend.test}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = get(sluice);
  EXPECT_EQ(r.status, 400) << sluice.process().output();
  EXPECT_NE(r.body.find("No required SSL certificate was sent"), std::string::npos) << r.body;
}

// Two backends naming the same server with different SNI: a connection
// made for one must never carry the other's request, whatever the pool.
TEST(TlsBackend, BackendsWithDifferentSniNeverSharePooledConnections) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("server", {"a.example.com", "b.example.com"})));
  const std::string server = server_of(nginx);
  const std::string ca = p.pki.ca_path();
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - {name: a, match: {path: /a/}, backend: a}
  - {name: b, match: {path: /b/}, backend: b}
backends:
  a:
    servers: [)" + server +
                        R"(]
    tls: {ca: )" + ca + R"(, sni: a.example.com}
    pool: {reuse: always}
  b:
    servers: [)" + server +
                        R"(]
    tls: {ca: )" + ca + R"(, sni: b.example.com}
    pool: {reuse: always}
)");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(get(sluice, "/a/" + std::to_string(i)).status, 200) << i;
    ASSERT_EQ(get(sluice, "/b/" + std::to_string(i)).status, 200) << i;
  }
  ASSERT_TRUE(nginx.wait_for_requests(20));
  const auto lines = lines_of(nginx.access_log());
  ASSERT_EQ(lines.size(), 20u);
  for (const auto& line : lines) {
    const std::string expected_sni =
        line.find("request=\"GET /a/") != std::string::npos ? "a.example.com" : "b.example.com";
    EXPECT_EQ(field(line, "sni"), expected_sni) << line;
  }
  // Each backend still pools its own: one connection each.
  EXPECT_EQ(nginx.connections_seen(), 2) << nginx.access_log();
}

// A handshake that fails verification is the server's failure, as a
// refused connect is: the request moves to the other server.
TEST(TlsBackend, RequestMovesPastServerFailingVerification) {
  Pki p;
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  NginxInstance bad(tls_nginx(TestPki::self_signed(p.dir.path().string(), "self", spec), "bad"));
  NginxInstance good(tls_nginx(p.issue("server", {"backend.test"}), "good"));
  SluiceInstance sluice(tls_config(server_of(bad) + ", " + server_of(good),
                                   "{ca: " + p.pki.ca_path() + ", sni: backend.test}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 10; ++i) {
    const HttpResponse r = get(sluice);
    ASSERT_EQ(r.status, 200) << i << sluice.process().output();
    EXPECT_EQ(r.body, "good");
  }
  EXPECT_TRUE(
      sluice.process().wait_for_line("backend 'app' server " + server_of(bad) +
                                         ": TLS handshake failed: certificate verify failed",
                                     std::chrono::seconds(5)))
      << sluice.process().output();
  EXPECT_EQ(bad.access_log(), "");
}

std::string health_block(const std::string& extra = "") {
  return "    health_check: {path: /healthz, interval: 100ms, timeout: 1s, rise: 1, fall: 1}\n" +
         extra;
}

// Health checks of a TLS backend shake hands as its requests do (same
// trust, SNI and name) and ask over TLS: a plain-text probe would get
// nginx's 400 and take the server down.
TEST(TlsHealthCheck, HttpCheckOfTlsBackendAsksOverTlsAndKeepsServerUp) {
  Pki p;
  NginxInstance nginx(tls_nginx(p.issue("server", {"backend.test"})));
  SluiceInstance sluice(tls_config(
      server_of(nginx), "{ca: " + p.pki.ca_path() + ", sni: backend.test}", health_block()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(nginx.wait_for_requests(3)) << sluice.process().output();
  for (const auto& line : lines_of(nginx.access_log())) {
    EXPECT_NE(line.find("request=\"GET /healthz HTTP/1.1\""), std::string::npos) << line;
    EXPECT_EQ(field(line, "status"), "200") << line;
    EXPECT_EQ(field(line, "sni"), "backend.test") << line;
    EXPECT_EQ(field(line, "proto").rfind("TLSv1.", 0), 0u) << line;
  }
  EXPECT_EQ(sluice.process().count(": down ("), 0u) << sluice.process().output();
  const HttpResponse r = get(sluice);
  EXPECT_EQ(r.status, 200) << sluice.process().output();
  EXPECT_EQ(r.body, "hello from nginx");
}

// A server whose certificate fails verification fails its checks: it goes
// down with the reason in the log, and then no request tries it (no
// retries here, so a request sent to it would be a 502).
TEST(TlsHealthCheck, ServerFailingVerificationGoesDownAndIsAvoided) {
  Pki p;
  CertSpec spec;
  spec.dns_names = {"backend.test"};
  NginxInstance bad(tls_nginx(TestPki::self_signed(p.dir.path().string(), "self", spec), "bad"));
  NginxInstance good(tls_nginx(p.issue("server", {"backend.test"}), "good"));
  SluiceInstance sluice(tls_config(server_of(bad) + ", " + server_of(good),
                                   "{ca: " + p.pki.ca_path() + ", sni: backend.test}",
                                   health_block("    retries: {attempts: 0}\n")));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto down = sluice.process().wait_for_line(
      "backend 'app' server " + server_of(bad) + ": down (", std::chrono::seconds(10));
  ASSERT_TRUE(down) << sluice.process().output();
  EXPECT_NE(down->find("last: TLS handshake failed: certificate verify failed"), std::string::npos)
      << *down;
  for (int i = 0; i < 10; ++i) {
    const HttpResponse r = get(sluice);
    ASSERT_EQ(r.status, 200) << i << sluice.process().output();
    EXPECT_EQ(r.body, "good");
  }
  EXPECT_EQ(sluice.process().count("server " + server_of(good) + ": down ("), 0u)
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
