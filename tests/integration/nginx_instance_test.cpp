// The nginx backend for TLS tests (tests/support/nginx_instance.h): plain
// and TLS instances answer curl, client certificates are enforced, and the
// access log tells connections, TLS versions and resumption apart.
#include "support/nginx_instance.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

bool connect_refused(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  ::close(fd);
  return refused;
}

// A CA and a server certificate for a.example.com and 127.0.0.1.
struct ServerPki {
  TempDir dir;
  TestPki pki{dir.path().string()};
  IssuedCert server = pki.issue("server", [] {
    CertSpec spec;
    spec.dns_names = {"a.example.com"};
    spec.ip_addresses = {"127.0.0.1"};
    return spec;
  }());
};

NginxOptions tls_options(const ServerPki& p) {
  NginxOptions o;
  o.tls = true;
  o.cert_path = p.server.cert_path;
  o.key_path = p.server.key_path;
  return o;
}

// curl to https://a.example.com:<port><path> (resolved to 127.0.0.1, so
// the name goes out as SNI), trusting `ca`, with any extra arguments before
// it (an extra URL is fetched first).
CommandResult curl_https(std::uint16_t port, const std::string& ca,
                         std::vector<std::string> extra = {}, const std::string& path = "/") {
  const std::string p = std::to_string(port);
  std::vector<std::string> argv = {
      "curl", "-sS", "-m", "10", "--cacert", ca, "--resolve", "a.example.com:" + p + ":127.0.0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://a.example.com:" + p + path);
  return run_command(argv);
}

TEST(NginxInstance, PlainInstanceAnswersWithItsBody) {
  NginxOptions o;
  o.body = "plain \"quoted\" body\\";
  NginxInstance nginx(o);
  const auto r = run_command(
      {"curl", "-sS", "-m", "10", "http://127.0.0.1:" + std::to_string(nginx.port()) + "/any"});
  ASSERT_EQ(r.exit_code, 0) << r.output << nginx.error_log();
  EXPECT_EQ(r.output, "plain \"quoted\" body\\");
  ASSERT_TRUE(nginx.wait_for_requests(1)) << nginx.access_log();
  const std::string log = nginx.access_log();
  EXPECT_NE(
      log.find("proto=- reused=- sni=- client=\"-\" status=200 request=\"GET /any HTTP/1.1\""),
      std::string::npos)
      << log;
}

TEST(NginxInstance, TlsInstanceAnswersCurlThatTrustsTheCa) {
  ServerPki p;
  NginxInstance nginx(tls_options(p));
  const auto r = curl_https(nginx.port(), p.pki.ca_path());
  ASSERT_EQ(r.exit_code, 0) << r.output << nginx.error_log();
  EXPECT_EQ(r.output, "hello from nginx");
  ASSERT_TRUE(nginx.wait_for_requests(1)) << nginx.access_log();
  const std::string log = nginx.access_log();
  EXPECT_NE(log.find("proto=TLSv1.3 reused=. sni=a.example.com client=\"-\" status=200"),
            std::string::npos)
      << log;
}

TEST(NginxInstance, TlsInstanceIsRefusedByCurlWithoutTheCa) {
  ServerPki p;
  NginxInstance nginx(tls_options(p));
  // Another CA: the server's chain does not lead to it.
  TempDir other_dir;
  TestPki other(other_dir.path().string(), "other-ca");
  const auto r = curl_https(nginx.port(), other.ca_path());
  EXPECT_EQ(r.exit_code, 60) << r.output;  // CURLE_PEER_FAILED_VERIFICATION
  EXPECT_EQ(nginx.access_log(), "");
}

TEST(NginxInstance, AccessLogCountsConnectionsAndRequests) {
  ServerPki p;
  NginxInstance nginx(tls_options(p));
  // Two requests on one kept-alive connection, then one on a second.
  const std::string first = "https://a.example.com:" + std::to_string(nginx.port()) + "/one";
  const auto two = curl_https(nginx.port(), p.pki.ca_path(), {first}, "/two");
  ASSERT_EQ(two.exit_code, 0) << two.output << nginx.error_log();
  EXPECT_EQ(two.output, "hello from nginxhello from nginx");
  const auto one = curl_https(nginx.port(), p.pki.ca_path(), {}, "/three");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ASSERT_TRUE(nginx.wait_for_requests(3)) << nginx.access_log();
  EXPECT_EQ(nginx.connections_seen(), 2) << nginx.access_log();
  const std::string log = nginx.access_log();
  EXPECT_EQ(count(log, "reqs=1 "), 2u) << log;
  EXPECT_EQ(count(log, "reqs=2 "), 1u) << log;
}

TEST(NginxInstance, AccessLogShowsAResumedSession) {
  ServerPki p;
  NginxInstance nginx(tls_options(p));
  // `Connection: close` makes curl open a second connection for the second
  // URL, which resumes the session it kept from the first.
  const std::string first = "https://a.example.com:" + std::to_string(nginx.port()) + "/first";
  const auto r =
      curl_https(nginx.port(), p.pki.ca_path(), {"-H", "Connection: close", first}, "/second");
  ASSERT_EQ(r.exit_code, 0) << r.output << nginx.error_log();
  ASSERT_TRUE(nginx.wait_for_requests(2)) << nginx.access_log();
  EXPECT_EQ(nginx.connections_seen(), 2) << nginx.access_log();
  const std::string log = nginx.access_log();
  EXPECT_NE(log.find("reused=. sni=a.example.com client=\"-\" status=200 request=\"GET /first "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("reused=r sni=a.example.com client=\"-\" status=200 request=\"GET /second "),
            std::string::npos)
      << log;
}

TEST(NginxInstance, ClientCertificateIsRequiredWhenAClientCaIsSet) {
  ServerPki p;
  CertSpec client_spec;
  client_spec.common_name = "client one";
  client_spec.client = true;
  const IssuedCert client = p.pki.issue("client", client_spec);
  NginxOptions o = tls_options(p);
  o.client_ca_path = p.pki.ca_path();
  NginxInstance nginx(o);

  const auto without = curl_https(nginx.port(), p.pki.ca_path(), {"-w", "%{http_code}"});
  EXPECT_NE(without.output.find("No required SSL certificate was sent"), std::string::npos)
      << without.output;
  EXPECT_NE(without.output.find("400"), std::string::npos) << without.output;

  const auto with = curl_https(nginx.port(), p.pki.ca_path(),
                               {"--cert", client.cert_path, "--key", client.key_path});
  ASSERT_EQ(with.exit_code, 0) << with.output << nginx.error_log();
  EXPECT_EQ(with.output, "hello from nginx");
  ASSERT_TRUE(nginx.wait_for_requests(2)) << nginx.access_log();
  EXPECT_NE(nginx.access_log().find("client=\"CN=client one\" status=200"), std::string::npos)
      << nginx.access_log();
}

TEST(NginxInstance, StoppedInstanceNoLongerAcceptsConnections) {
  std::uint16_t port = 0;
  {
    NginxInstance nginx(NginxOptions{});
    port = nginx.port();
    EXPECT_FALSE(connect_refused(port));
  }
  EXPECT_TRUE(connect_refused(port));
}

TEST(NginxInstance, UnreadableCertificateFailsTheStartWithNginxsReason) {
  NginxOptions o;
  o.tls = true;
  o.cert_path = "/nonexistent/server.crt";
  o.key_path = "/nonexistent/server.key";
  try {
    NginxInstance nginx(o);
    ADD_FAILURE() << "nginx started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot load certificate"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sluice::test
