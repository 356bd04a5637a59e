// Client certificates on TLS listeners (issue 16), with curl as the client:
// `required` refuses a client without a certificate from the configured CA,
// `optional` lets it in; the verified subject reaches the backend in a
// header only sluice sets, whatever the client sends.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/test_backend.h"
#include "support/test_pki.h"
#include "tls_clients.h"

namespace sluice::test {
namespace {

class TlsClientAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = dir_.path().string();
    TestPki servers(dir, "server-ca");
    TestPki clients(dir, "client-ca");
    TestPki strangers(dir, "stranger-ca");
    server_ca_ = servers.ca_path();
    CertSpec site;
    site.dns_names = {"site.example.com"};
    const IssuedCert site_cert = servers.issue("site", site);
    CertSpec alice;
    alice.common_name = "Alice Example, Ops";  // a comma: RFC 2253 escapes it
    alice.client = true;
    alice_ = clients.issue("alice", alice);
    CertSpec mallory;
    mallory.common_name = "Alice Example, Ops";  // the same name, from another CA
    mallory.client = true;
    mallory_ = strangers.issue("mallory", mallory);

    const std::string certificates =
        "      certificates:\n        - {cert: " + site_cert.cert_path +
        ", key: " + site_cert.key_path + "}\n";
    auto tls_listener = [&](const std::string& name, const std::string& client_auth) {
      return "  - name: " + name + "\n    listen: 127.0.0.1:0\n    tls:\n" + certificates +
             client_auth;
    };
    sluice_ = std::make_unique<SluiceInstance>(
        "workers: 1\n"
        "listeners:\n" +
        tls_listener("required",
                     "      client_auth: {ca: " + clients.ca_path() + ", mode: required}\n") +
        tls_listener("named", "      client_auth: {ca: " + clients.ca_path() +
                                  ", header: X-Verified-Client}\n") +
        tls_listener("optional",
                     "      client_auth: {ca: " + clients.ca_path() + ", mode: optional}\n") +
        tls_listener("anonymous", "") +
        "  - name: plain\n"
        "    listen: 127.0.0.1:0\n"
        "routes:\n"
        "  - name: app\n"
        "    backend: app\n"
        "backends:\n"
        "  app:\n"
        "    servers: [" +
        backend_.address() + "]\n");
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
  }

  // GET / on `listener` with curl; `certificate`: present it. Returns
  // curl's result, whose output is the status ("000" when refused).
  CommandResult get(const std::string& listener, const IssuedCert* certificate,
                    const std::vector<std::string>& headers = {}) {
    std::vector<std::string> args = {"-o", "/dev/null", "-w", "%{http_code}"};
    const std::uint16_t port = sluice_->port(listener);
    if (listener == "plain") {
      args.push_back("http://127.0.0.1:" + std::to_string(port) + "/");
    } else {
      const auto tls = curl_tls(server_ca_, "site.example.com", port);
      args.insert(args.end(), tls.begin(), tls.end());
      if (certificate != nullptr) {
        args.insert(args.end(), {"--cert", certificate->cert_path, "--key", certificate->key_path});
      }
      args.push_back(https_url("site.example.com", port));
    }
    for (const auto& h : headers)
      args.insert(args.end(), {"-H", h});
    return curl(args);
  }
  // What the backend saw on its last request.
  ReceivedRequest last_seen() const {
    const auto all = backend_.requests();
    return all.empty() ? ReceivedRequest{} : all.back();
  }

  TempDir dir_;
  std::string server_ca_;
  IssuedCert alice_, mallory_;
  TestBackend backend_{TestBackend::echo()};
  std::unique_ptr<SluiceInstance> sluice_;
};

TEST_F(TlsClientAuth, RequiredRefusesAClientWithoutCertificate) {
  const auto r = get("required", nullptr);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "000")) << r.output;
  EXPECT_EQ(backend_.requests().size(), 0u);
}

TEST_F(TlsClientAuth, RequiredRefusesACertificateFromAnotherCa) {
  const auto r = get("required", &mallory_);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "000")) << r.output;
  EXPECT_EQ(backend_.requests().size(), 0u);
}

TEST_F(TlsClientAuth, RequiredServesAGoodCertificateAndTellsTheBackendItsSubject) {
  ASSERT_EQ(alice_.subject, "CN=Alice Example\\, Ops");
  const auto r = get("required", &alice_);
  EXPECT_EQ(r.output, "200");
  const ReceivedRequest seen = last_seen();
  EXPECT_EQ(seen.header("x-client-cert-subject"), alice_.subject) << seen.raw_head;
  EXPECT_EQ(seen.headers.count("x-client-cert-subject"), 1u) << seen.raw_head;
}

TEST_F(TlsClientAuth, ConfiguredHeaderNameCarriesTheSubject) {
  const auto r = get("named", &alice_);
  EXPECT_EQ(r.output, "200");
  const ReceivedRequest seen = last_seen();
  EXPECT_EQ(seen.header("x-verified-client"), alice_.subject) << seen.raw_head;
  EXPECT_FALSE(seen.has("x-client-cert-subject")) << seen.raw_head;
}

TEST_F(TlsClientAuth, ClientsOwnSubjectHeaderNeverReachesTheBackend) {
  const std::vector<std::string> forged = {"X-Client-Cert-Subject: CN=admin",
                                           "X-Verified-Client: CN=admin"};
  // With a verified certificate: only the real subject arrives.
  EXPECT_EQ(get("required", &alice_, forged).output, "200");
  ReceivedRequest seen = last_seen();
  EXPECT_EQ(seen.headers.count("x-client-cert-subject"), 1u) << seen.raw_head;
  EXPECT_EQ(seen.header("x-client-cert-subject"), alice_.subject) << seen.raw_head;

  EXPECT_EQ(get("named", &alice_, forged).output, "200");
  seen = last_seen();
  EXPECT_EQ(seen.headers.count("x-verified-client"), 1u) << seen.raw_head;
  EXPECT_EQ(seen.header("x-verified-client"), alice_.subject) << seen.raw_head;
  EXPECT_FALSE(seen.has("x-client-cert-subject")) << seen.raw_head;

  // Without one: nothing arrives.
  EXPECT_EQ(get("optional", nullptr, forged).output, "200");
  EXPECT_FALSE(last_seen().has("x-client-cert-subject")) << last_seen().raw_head;
  // On a TLS listener that asks for no certificate, and on plain HTTP.
  for (const char* listener : {"anonymous", "plain"}) {
    EXPECT_EQ(get(listener, nullptr, forged).output, "200") << listener;
    EXPECT_FALSE(last_seen().has("x-client-cert-subject")) << listener << "\n"
                                                           << last_seen().raw_head;
  }
  EXPECT_EQ(backend_.requests().size(), 5u);
}

TEST_F(TlsClientAuth, OptionalServesAClientWithoutCertificateWithoutTheHeader) {
  const auto r = get("optional", nullptr);
  EXPECT_EQ(r.output, "200");
  ASSERT_EQ(backend_.requests().size(), 1u);
  EXPECT_FALSE(last_seen().has("x-client-cert-subject")) << last_seen().raw_head;
}

TEST_F(TlsClientAuth, OptionalPassesAGoodCertificatesSubject) {
  const auto r = get("optional", &alice_);
  EXPECT_EQ(r.output, "200");
  EXPECT_EQ(last_seen().header("x-client-cert-subject"), alice_.subject) << last_seen().raw_head;
}

}  // namespace
}  // namespace sluice::test
