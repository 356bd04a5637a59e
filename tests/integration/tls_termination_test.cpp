// TLS termination as a user meets it (issue 16), with real clients: which
// certificate `openssl s_client` and curl are given for the name they ask
// for, resumption, ALPN, protocol versions and suites, HTTP over TLS end to
// end, the PROXY protocol in front of TLS, HSTS and HTTP-to-HTTPS redirects.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/test_pki.h"
#include "tls_clients.h"

namespace sluice::test {
namespace {

std::string entry(const IssuedCert& c) {
  return "        - {cert: " + c.cert_path + ", key: " + c.key_path + "}\n";
}

CertSpec named(std::vector<std::string> dns, std::string cn, KeyKind key = KeyKind::ec_p256) {
  CertSpec s;
  s.dns_names = std::move(dns);
  s.common_name = std::move(cn);
  s.key = key;
  return s;
}

// One TLS listener 'web' answering every request 200 "ok"; `tls_extra`
// lines go into its tls block (indented six spaces).
std::string responder_config(const std::string& certificates, const std::string& tls_extra = "",
                             int workers = 1) {
  return "workers: " + std::to_string(workers) +
         "\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "    tls:\n"
         "      certificates:\n" +
         certificates + tls_extra +
         "routes:\n"
         "  - name: ok\n"
         "    respond: {status: 200, body: ok}\n";
}

// Values of header `name` (any case) in curl's -D output.
std::vector<std::string> header_values(const std::string& curl_output, const std::string& name) {
  std::vector<std::string> out;
  std::istringstream in(curl_output);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon != name.size()) continue;
    std::string n = line.substr(0, colon);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (n != name) continue;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(' '));
    out.push_back(v);
  }
  return out;
}

// ----------------------------------------------------------------- SNI

class TlsSni : public ::testing::Test {
 protected:
  void SetUp() override {
    TestPki pki(dir_.path().string());
    ca_ = pki.ca_path();
    fallback_ = pki.issue("fallback", named({"fallback.example.net"}, "fallback"));
    exact_ = pki.issue("exact", named({"a.w.example.com"}, "exact"));
    wildcard_ = pki.issue("wildcard", named({"*.w.example.com"}, "wildcard"));
    sluice_ = std::make_unique<SluiceInstance>(
        responder_config(entry(fallback_) + entry(wildcard_) + entry(exact_)));
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
    port_ = sluice_->port("web");
  }
  TempDir dir_;
  std::string ca_;
  IssuedCert fallback_, exact_, wildcard_;
  std::unique_ptr<SluiceInstance> sluice_;
  std::uint16_t port_ = 0;
};

TEST_F(TlsSni, ExactNameGetsItsOwnCertificateOverAWildcardThatAlsoCoversIt) {
  EXPECT_EQ(served_fingerprint(port_, "a.w.example.com"), exact_.fingerprint_sha256);
  // Server names are compared without regard to case (RFC 6066 §3, RFC 4343).
  EXPECT_EQ(served_fingerprint(port_, "A.W.Example.COM"), exact_.fingerprint_sha256);
}

TEST_F(TlsSni, WildcardCoversExactlyOneLabel) {
  EXPECT_EQ(served_fingerprint(port_, "b.w.example.com"), wildcard_.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port_, "a.b.w.example.com"), fallback_.fingerprint_sha256)
      << "two labels under *.w.example.com get the default";
  EXPECT_EQ(served_fingerprint(port_, "w.example.com"), fallback_.fingerprint_sha256)
      << "the wildcard's own base name is not covered";
}

TEST_F(TlsSni, ClientWithoutServerNameGetsTheFirstCertificate) {
  EXPECT_EQ(served_fingerprint(port_, ""), fallback_.fingerprint_sha256);
}

TEST_F(TlsSni, UnknownNameGetsTheFirstCertificate) {
  EXPECT_EQ(served_fingerprint(port_, "nobody.example.org"), fallback_.fingerprint_sha256);
}

TEST_F(TlsSni, CurlVerifiesTheCertificateChosenForItsName) {
  auto r = curl({"-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca_, "--resolve",
                 "b.w.example.com:" + std::to_string(port_) + ":127.0.0.1",
                 https_url("b.w.example.com", port_)});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "200");
}

TEST(TlsCertificates, OneCertificateListedHundredsOfTimesServesEveryName) {
  TempDir dir;
  TestPki pki(dir.path().string());
  const IssuedCert fallback = pki.issue("fallback", named({"fallback.example.net"}, "fallback"));
  const IssuedCert wildcard = pki.issue("wildcard", named({"*.example.com"}, "wildcard"));
  const IssuedCert own = pki.issue("own", named({"own.example.com"}, "own"));
  // As a generated configuration for 800 sites lists it: once per site,
  // with a site of its own among them.
  std::string certificates = entry(fallback);
  for (int i = 0; i < 400; ++i)
    certificates += entry(wildcard);
  certificates += entry(own);
  for (int i = 0; i < 400; ++i)
    certificates += entry(wildcard);
  SluiceInstance sluice(responder_config(certificates));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(served_fingerprint(port, "site1.example.com"), wildcard.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "own.example.com"), own.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "other.example.org"), fallback.fingerprint_sha256);
  auto r = curl({"-o", "/dev/null", "-w", "%{http_code}", "--cacert", pki.ca_path(), "--resolve",
                 "site799.example.com:" + std::to_string(port) + ":127.0.0.1",
                 https_url("site799.example.com", port)});
  EXPECT_EQ(r.output, "200") << r.output;
}

TEST(TlsCertificates, DirectoryEntryServesEachBundleForItsNames) {
  TempDir dir;
  TestPki pki(dir.path().string());
  const IssuedCert fallback = pki.issue("fallback", named({"fallback.example.net"}, "fallback"));
  const IssuedCert a = pki.issue("a", named({"a.example.com"}, "a"));
  const IssuedCert b = pki.issue("b", named({"b.example.com", "*.b.example.com"}, "b"));
  std::filesystem::create_directory(dir.path() / "sites");
  std::filesystem::copy_file(a.bundle_path, dir.path() / "sites" / "a.pem");
  std::filesystem::copy_file(b.bundle_path, dir.path() / "sites" / "b.pem");
  SluiceInstance sluice(responder_config(
      entry(fallback) + "        - directory: " + (dir.path() / "sites").string() + "\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(served_fingerprint(port, "a.example.com"), a.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "b.example.com"), b.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "x.b.example.com"), b.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "c.example.com"), fallback.fingerprint_sha256);
}

TEST(TlsCertificates, RsaOnlyClientGetsTheRsaCertificateOthersTheEcOne) {
  TempDir dir;
  TestPki pki(dir.path().string());
  const IssuedCert fallback = pki.issue("fallback", named({"fallback.example.net"}, "fallback"));
  const IssuedCert rsa =
      pki.issue("dual-rsa", named({"dual.example.com"}, "dual rsa", KeyKind::rsa2048));
  const IssuedCert ec = pki.issue("dual-ec", named({"dual.example.com"}, "dual ec"));
  // RSA listed first: the choice is the client's, not the file order.
  SluiceInstance sluice(responder_config(entry(fallback) + entry(rsa) + entry(ec)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(served_fingerprint(port, "dual.example.com"), ec.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "dual.example.com", {"-tls1_2"}), ec.fingerprint_sha256);
  EXPECT_EQ(served_fingerprint(port, "dual.example.com",
                               {"-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256:rsa_pkcs1_sha256"}),
            rsa.fingerprint_sha256)
      << "a TLS 1.3 client accepting only RSA signatures";
  EXPECT_EQ(served_fingerprint(port, "dual.example.com",
                               {"-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"}),
            rsa.fingerprint_sha256)
      << "a TLS 1.2 client offering only ECDHE-RSA suites";
}

// ----------------------------------------------------------- resumption

class TlsResumption : public ::testing::Test {
 protected:
  void start(const std::string& tls_extra, int workers = 1) {
    TestPki pki(dir_.path().string());
    site_ = pki.issue("site", named({"site.example.com"}, "site"));
    sluice_ = std::make_unique<SluiceInstance>(responder_config(entry(site_), tls_extra, workers));
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
    port_ = sluice_->port("web");
  }
  // Connects once saving the session, then `reconnects` times offering it;
  // counts the reconnections s_client reports as "Reused" (each one also
  // gets its 200).
  int reused_count(const std::vector<std::string>& args, int reconnects = 1) {
    const std::string session = dir_.path().string() + "/session-" + std::to_string(++n_) + ".pem";
    std::vector<std::string> first = {"-servername", "site.example.com", "-sess_out", session};
    first.insert(first.end(), args.begin(), args.end());
    auto r = s_client(port_, first, closing_get("site.example.com"));
    EXPECT_TRUE(contains(r.output, "New, TLSv1.")) << r.output;
    EXPECT_TRUE(contains(r.output, "HTTP/1.1 200")) << r.output;
    if (!std::filesystem::exists(session)) return 0;  // nothing to resume with
    int reused = 0;
    for (int i = 0; i < reconnects; ++i) {
      std::vector<std::string> again = {"-servername", "site.example.com", "-sess_in", session};
      again.insert(again.end(), args.begin(), args.end());
      auto again_r = s_client(port_, again, closing_get("site.example.com"));
      EXPECT_TRUE(contains(again_r.output, "HTTP/1.1 200")) << again_r.output;
      if (contains(again_r.output, "Reused, TLSv1.")) ++reused;
    }
    return reused;
  }
  TempDir dir_;
  IssuedCert site_;
  std::unique_ptr<SluiceInstance> sluice_;
  std::uint16_t port_ = 0;
  int n_ = 0;
};

TEST_F(TlsResumption, Tls13TicketIsReused) {
  start("");
  EXPECT_EQ(reused_count({"-tls1_3"}), 1);
}

TEST_F(TlsResumption, Tls12TicketIsReused) {
  start("      session_cache_size: 0\n");  // only the ticket can resume it
  EXPECT_EQ(reused_count({"-tls1_2"}), 1);
}

TEST_F(TlsResumption, Tls12ClientWithoutTicketsResumesFromTheSessionCache) {
  start("      session_tickets: false\n");
  EXPECT_EQ(reused_count({"-tls1_2", "-no_ticket"}), 1);
}

TEST_F(TlsResumption, NoTicketsAndNoCacheMeansEveryHandshakeIsFull) {
  start("      session_tickets: false\n      session_cache_size: 0\n");
  EXPECT_EQ(reused_count({"-tls1_3"}), 0);
  EXPECT_EQ(reused_count({"-tls1_2"}), 0);
  EXPECT_EQ(reused_count({"-tls1_2", "-no_ticket"}), 0);
}

TEST_F(TlsResumption, CacheOffStillResumesByTicketButNotBySessionId) {
  start("      session_cache_size: 0\n");
  EXPECT_EQ(reused_count({"-tls1_2", "-no_ticket"}), 0);
}

TEST_F(TlsResumption, TicketIssuedByOneWorkerIsAcceptedByEveryWorker) {
  start("", 2);
  // Each reconnection comes from a new source port, so SO_REUSEPORT spreads
  // them over both workers: all of them must resume.
  EXPECT_EQ(reused_count({"-tls1_3"}, 10), 10);
  EXPECT_EQ(reused_count({"-tls1_2"}, 10), 10);
}

// ----------------------------------------------------------------- ALPN

class TlsAlpn : public ::testing::Test {
 protected:
  void SetUp() override {
    TestPki pki(dir_.path().string());
    site_ = pki.issue("site", named({"site.example.com"}, "site"));
  }
  TempDir dir_;
  IssuedCert site_;
};

TEST_F(TlsAlpn, ClientOfferingHttp11AndH2GetsH2ByDefault) {
  SluiceInstance sluice(responder_config(entry(site_)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // The server's preference (h2 first) decides, not the client's order.
  auto r =
      s_client(sluice.port("web"), {"-servername", "site.example.com", "-alpn", "http/1.1,h2"}, "");
  EXPECT_TRUE(contains(r.output, "ALPN protocol: h2")) << r.output;
}

TEST_F(TlsAlpn, ClientOfferingH2AndHttp11GetsHttp11WhenHttp2IsOff) {
  // After the certificates, at the listener's indentation.
  SluiceInstance sluice(responder_config(entry(site_), "    http2: {enabled: false}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = s_client(sluice.port("web"), {"-servername", "site.example.com", "-alpn", "h2,http/1.1"},
                    closing_get("site.example.com"));
  EXPECT_TRUE(contains(r.output, "ALPN protocol: http/1.1")) << r.output;
  EXPECT_TRUE(contains(r.output, "HTTP/1.1 200")) << r.output;
}

TEST_F(TlsAlpn, ClientOfferingOnlyAnUnknownProtocolConnectsWithoutAlpnAndGetsHttp11) {
  SluiceInstance sluice(responder_config(entry(site_)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = s_client(sluice.port("web"), {"-servername", "site.example.com", "-alpn", "x-unknown/9"},
                    closing_get("site.example.com"));
  EXPECT_TRUE(contains(r.output, "No ALPN negotiated")) << r.output;
  EXPECT_TRUE(contains(r.output, "HTTP/1.1 200")) << r.output;
}

TEST_F(TlsAlpn, ConfiguredProtocolsAreAgreedInOurOrderOfPreference) {
  TestBackend backend([](BackendConnection& c) { c.wait_closed(); });
  SluiceInstance sluice(
      "workers: 1\n"
      "listeners:\n"
      "  - name: mail\n"
      "    listen: 127.0.0.1:0\n"
      "    protocol: tcp\n"
      "    backend: imap\n"
      "    tls:\n"
      "      certificates:\n" +
      entry(site_) +
      "      alpn: [imap, x-test]\n"
      "  - name: plain-tcp\n"
      "    listen: 127.0.0.1:0\n"
      "    protocol: tcp\n"
      "    backend: imap\n"
      "    tls:\n"
      "      certificates:\n" +
      entry(site_) + "backends:\n  imap:\n    servers: [" + backend.address() + "]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto both =
      s_client(sluice.port("mail"), {"-servername", "site.example.com", "-alpn", "x-test,imap"});
  EXPECT_TRUE(contains(both.output, "ALPN protocol: imap")) << both.output;
  auto one = s_client(sluice.port("mail"), {"-servername", "site.example.com", "-alpn", "x-test"});
  EXPECT_TRUE(contains(one.output, "ALPN protocol: x-test")) << one.output;
  // A tcp listener offers no ALPN unless configured.
  auto none =
      s_client(sluice.port("plain-tcp"), {"-servername", "site.example.com", "-alpn", "http/1.1"});
  EXPECT_TRUE(contains(none.output, "No ALPN negotiated")) << none.output;
  EXPECT_TRUE(contains(none.output, "Verify return code")) << "the handshake completed\n"
                                                           << none.output;
}

// ------------------------------------------------ versions, suites, groups

class TlsProtocolSettings : public ::testing::Test {
 protected:
  void start(const std::string& tls_extra) {
    TestPki pki(dir_.path().string());
    site_ = pki.issue("site", named({"site.example.com"}, "site"));
    sluice_ = std::make_unique<SluiceInstance>(responder_config(entry(site_), tls_extra));
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
  }
  // True when the client completes a handshake and gets its 200.
  bool served(const std::vector<std::string>& client_args) {
    std::vector<std::string> args = {"-servername", "site.example.com"};
    args.insert(args.end(), client_args.begin(), client_args.end());
    last_ = s_client(sluice_->port("web"), args, closing_get("site.example.com"));
    return contains(last_.output, "HTTP/1.1 200");
  }
  TempDir dir_;
  IssuedCert site_;
  std::unique_ptr<SluiceInstance> sluice_;
  CommandResult last_;
};

TEST_F(TlsProtocolSettings, MinVersion13RefusesTls12Clients) {
  start("      min_version: 1.3\n");
  EXPECT_FALSE(served({"-tls1_2"})) << last_.output;
  EXPECT_NE(last_.exit_code, 0);
  EXPECT_TRUE(served({"-tls1_3"})) << last_.output;
}

TEST_F(TlsProtocolSettings, DefaultAcceptsTls12AndTls13) {
  start("");
  EXPECT_TRUE(served({"-tls1_2"})) << last_.output;
  EXPECT_TRUE(contains(last_.output, "Protocol  : TLSv1.2")) << last_.output;
  EXPECT_TRUE(served({"-tls1_3"})) << last_.output;
}

TEST_F(TlsProtocolSettings, Tls12CipherOutsideTheConfiguredListIsRefused) {
  start("      ciphers: ECDHE-ECDSA-AES256-GCM-SHA384\n");
  EXPECT_FALSE(served({"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"})) << last_.output;
  EXPECT_TRUE(served({"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"})) << last_.output;
  EXPECT_TRUE(contains(last_.output, "ECDHE-ECDSA-AES256-GCM-SHA384")) << last_.output;
}

TEST_F(TlsProtocolSettings, GroupOutsideTheConfiguredCurvesIsRefused) {
  start("      curves: P-384\n");
  EXPECT_FALSE(served({"-groups", "X25519"})) << last_.output;
  EXPECT_FALSE(served({"-tls1_2", "-groups", "P-256"})) << last_.output;
  EXPECT_TRUE(served({"-groups", "P-384"})) << last_.output;
  EXPECT_TRUE(contains(last_.output, "Server Temp Key: ECDH, secp384r1")) << last_.output;
}

// ------------------------------------------------------- HTTP over TLS

std::string proxy_config(const std::string& certificates, const std::string& backend_address,
                         const std::string& listener_extra = "") {
  return "workers: 1\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n" +
         listener_extra +
         "    tls:\n"
         "      certificates:\n" +
         certificates +
         "routes:\n"
         "  - name: app\n"
         "    backend: app\n"
         "backends:\n"
         "  app:\n"
         "    servers: [" +
         backend_address + "]\n";
}

class HttpOverTls : public ::testing::Test {
 protected:
  void start(TestBackend& backend, const std::string& listener_extra = "") {
    TestPki pki(dir_.path().string());
    ca_ = pki.ca_path();
    site_ = pki.issue("site", named({"site.example.com"}, "site"));
    sluice_ = std::make_unique<SluiceInstance>(
        proxy_config(entry(site_), backend.address(), listener_extra));
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
    port_ = sluice_->port("web");
  }
  std::vector<std::string> tls_args() const { return curl_tls(ca_, "site.example.com", port_); }
  std::string url(const std::string& path) const {
    return https_url("site.example.com", port_, path);
  }
  TempDir dir_;
  std::string ca_;
  IssuedCert site_;
  std::unique_ptr<SluiceInstance> sluice_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpOverTls, BackendSeesXForwardedProtoHttps) {
  TestBackend backend(TestBackend::echo());
  start(backend);
  auto args = tls_args();
  args.insert(args.end(), {"-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Forwarded-Proto: http",
                           url("/where")});
  auto r = curl(args);
  EXPECT_EQ(r.output, "200");
  ASSERT_EQ(backend.requests().size(), 1u);
  const ReceivedRequest seen = backend.requests()[0];
  EXPECT_EQ(seen.header("x-forwarded-proto"), "https") << seen.raw_head;
  EXPECT_EQ(seen.headers.count("x-forwarded-proto"), 1u) << "the client's claim is replaced";
  EXPECT_EQ(seen.target, "/where");
}

TEST_F(HttpOverTls, TwoRequestsShareOneTlsConnection) {
  TestBackend backend(TestBackend::echo());
  start(backend);
  auto args = tls_args();
  args.insert(args.end(), {"-v", "-o", "/dev/null", "-o", "/dev/null", "-w", "[%{http_code}]",
                           url("/one"), url("/two")});
  auto r = curl(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_of(r.output, "[200]"), 2u) << r.output;
  EXPECT_TRUE(contains(r.output, "Re-using existing connection")) << r.output;
  EXPECT_EQ(count_of(r.output, "SSL connection using"), 1u) << "one handshake\n" << r.output;
  EXPECT_EQ(backend.requests().size(), 2u);
}

TEST_F(HttpOverTls, MebibyteResponseAndUploadArriveIntact) {
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>((i * 2654435761u) >> 13);
  TestBackend backend([&big](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const std::string body = r.method == "POST" ? r.body : big;
      if (!c.send(make_response(200, body))) return;
    }
  });
  start(backend);
  const std::string upload = dir_.path().string() + "/upload.bin";
  const std::string got = dir_.path().string() + "/got.bin";
  const std::string echoed = dir_.path().string() + "/echoed.bin";
  std::string reversed(big.rbegin(), big.rend());
  { std::ofstream(upload, std::ios::binary) << reversed; }

  auto args = tls_args();
  args.insert(args.end(), {"-o", got, "-w", "%{http_code}", url("/big")});
  auto r = curl(args);
  EXPECT_EQ(r.output, "200");
  EXPECT_TRUE(read_whole_file(got) == big) << "the 1 MiB response differs";

  args = tls_args();
  args.insert(args.end(), {"-o", echoed, "-w", "%{http_code}", "--data-binary", "@" + upload, "-H",
                           "Content-Type: application/octet-stream", url("/upload")});
  r = curl(args);
  EXPECT_EQ(r.output, "200");
  ASSERT_EQ(backend.requests().size(), 2u);
  EXPECT_TRUE(backend.requests()[1].body == reversed) << "the 1 MiB upload differs at the backend";
  EXPECT_TRUE(read_whole_file(echoed) == reversed) << "the echoed upload differs";
}

TEST_F(HttpOverTls, HeadHasNoBodyAndTheConnectionStaysUsable) {
  // The backend says how long the body would be, as HEAD answers do.
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const std::string out = r.method == "HEAD" ? "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
                                                 : make_response(200, "hello world");
      if (!c.send(out)) return;
    }
  });
  start(backend);
  const std::string body = dir_.path().string() + "/body.txt";
  auto args = tls_args();
  args.insert(args.end(),
              {"-v", "-I", "-w", "[%{http_code} %{size_download}]", url("/thing"), "--next"});
  auto more = tls_args();
  args.insert(args.end(), more.begin(), more.end());
  args.insert(args.end(), {"-v", "-o", body, "-w", "[%{http_code}]", url("/thing")});
  auto r = curl(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "[200 0]")) << "HEAD: 200 and no body\n" << r.output;
  EXPECT_TRUE(contains(r.output, "[200]")) << r.output;
  EXPECT_TRUE(contains(r.output, "Re-using existing connection")) << r.output;
  EXPECT_EQ(read_whole_file(body), "hello world");
  ASSERT_EQ(backend.requests().size(), 2u);
  EXPECT_EQ(backend.requests()[0].method, "HEAD");
}

TEST(TlsListener, PlainHttpIsClosedLoggedAtMostOncePerSecondAndTlsStillServed) {
  TempDir dir;
  TestPki pki(dir.path().string());
  const IssuedCert site = pki.issue("site", named({"site.example.com"}, "site"));
  SluiceInstance sluice(responder_config(entry(site)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    RawConnection c(port);
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: site.example.com\r\n\r\n"));
    ASSERT_TRUE(c.wait_closed()) << "connection " << i << " got: " << c.leftover();
    EXPECT_TRUE(c.leftover().find("HTTP/1.1") == std::string::npos);
  }
  // Still serving TLS.
  auto r = curl({"-o", "/dev/null", "-w", "%{http_code}", "--cacert", pki.ca_path(), "--resolve",
                 "site.example.com:" + std::to_string(port) + ":127.0.0.1",
                 https_url("site.example.com", port)});
  EXPECT_EQ(r.output, "200") << r.output;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const std::size_t lines = sluice.process().count("TLS handshake failed");
  EXPECT_GE(lines, 1u) << "the failure is logged";
  EXPECT_LE(lines, static_cast<std::size_t>(seconds) + 1) << "200 failures in " << seconds << " s\n"
                                                          << sluice.process().output();
}

// ------------------------------------------------------ PROXY protocol

// Stands between a client and sluice, as a load balancer in front of it
// would: accepts one connection, opens one to sluice, writes `header` there
// first, then passes bytes both ways untouched until either side closes.
class ProxyHeaderRelay {
 public:
  ProxyHeaderRelay(std::uint16_t target_port, std::string header)
      : target_port_(target_port), header_(std::move(header)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { relay_one(); });
  }
  ~ProxyHeaderRelay() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void relay_one() {
    pollfd accept_poll{listen_fd_, POLLIN, 0};
    while (!stop_ && ::poll(&accept_poll, 1, 100) == 0) {
    }
    if (stop_) return;
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(target_port_);
    if (client >= 0 && ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::send(server, header_.data(), header_.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(header_.size())) {
      pump(client, server);
    }
    if (client >= 0) ::close(client);
    ::close(server);
  }
  void pump(int client, int server) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[16384];
    while (!stop_) {
      if (::poll(fds, 2, 100) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        if (::send(fds[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
      }
    }
  }
  std::uint16_t target_port_;
  std::string header_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(HttpOverTls, CurlSendingAProxyHeaderThenTlsIsServed) {
  TestBackend backend(TestBackend::echo());
  start(backend, "    proxy_protocol: true\n");
  auto args = tls_args();
  args.insert(args.end(), {"--haproxy-protocol", "-o", "/dev/null", "-w", "%{http_code}",
                           url("/behind-a-balancer")});
  auto r = curl(args);
  EXPECT_EQ(r.output, "200") << r.output << sluice_->process().output();
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].header("x-forwarded-proto"), "https");
}

TEST_F(HttpOverTls, BackendSeesTheClientAddressFromTheProxyHeaderBeforeTls) {
  TestBackend backend(TestBackend::echo());
  start(backend, "    proxy_protocol: true\n");
  ProxyHeaderRelay relay(port_, "PROXY TCP4 198.51.100.7 203.0.113.1 40000 443\r\n");
  auto args = curl_tls(ca_, "site.example.com", relay.port());
  args.insert(args.end(), {"-o", "/dev/null", "-w", "%{http_code}",
                           https_url("site.example.com", relay.port(), "/who")});
  auto r = curl(args);
  EXPECT_EQ(r.output, "200") << r.output << sluice_->process().output();
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].header("x-forwarded-for"), "198.51.100.7")
      << backend.requests()[0].raw_head;
  EXPECT_EQ(backend.requests()[0].header("x-forwarded-proto"), "https");
}

// ---------------------------------------------------------------- HSTS

class Hsts : public ::testing::Test {
 protected:
  void SetUp() override {
    TestPki pki(dir_.path().string());
    ca_ = pki.ca_path();
    site_ = pki.issue("site", named({"site.example.com"}, "site"));
    sluice_ = std::make_unique<SluiceInstance>(
        "workers: 1\n"
        "listeners:\n"
        "  - name: secure\n"
        "    listen: 127.0.0.1:0\n"
        "    tls:\n"
        "      certificates:\n" +
        entry(site_) +
        "      hsts: {max_age: 1h, include_subdomains: true}\n"
        "  - name: plain\n"
        "    listen: 127.0.0.1:0\n"
        "routes:\n"
        "  - name: forwarded\n"
        "    match: {path: /forwarded}\n"
        "    backend: app\n"
        "  - name: own-sts\n"
        "    match: {path: /own-sts}\n"
        "    backend: app\n"
        "  - name: respond\n"
        "    match: {path: /respond}\n"
        "    respond: {status: 200, body: hi}\n"
        "  - name: redirect\n"
        "    match: {path: /redirect}\n"
        "    redirect: {path: /elsewhere}\n"
        "  - name: broken\n"
        "    match: {path: /broken}\n"
        "    backend: broken\n"
        "backends:\n"
        "  app:\n"
        "    servers: [" +
        app_.address() +
        "]\n"
        "  broken:\n"
        "    servers: [" +
        broken_.address() + "]\n");
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
  }
  // Status and Strict-Transport-Security values of a GET on `path`.
  std::pair<std::string, std::vector<std::string>> get(bool secure, const std::string& path) {
    std::vector<std::string> args;
    std::string u;
    if (secure) {
      args = curl_tls(ca_, "site.example.com", sluice_->port("secure"));
      u = https_url("site.example.com", sluice_->port("secure"), path);
    } else {
      u = "http://127.0.0.1:" + std::to_string(sluice_->port("plain")) + path;
    }
    args.insert(args.end(), {"-D", "-", "-o", "/dev/null", u});
    auto r = curl(args);
    const std::string status = r.output.size() > 12 ? r.output.substr(9, 3) : r.output;
    return {status, header_values(r.output, "strict-transport-security")};
  }
  TempDir dir_;
  std::string ca_;
  IssuedCert site_;
  TestBackend app_{[](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      std::vector<std::string> h;
      if (r.target == "/own-sts") h.push_back("Strict-Transport-Security: max-age=5");
      if (!c.send(make_response(200, "from app", h))) return;
    }
  }};
  TestBackend broken_{[](BackendConnection& c) { c.close(); }};
  std::unique_ptr<SluiceInstance> sluice_;
};

TEST_F(Hsts, EveryResponseOverTlsCarriesIt) {
  const std::vector<std::string> expected = {"max-age=3600; includeSubDomains"};
  for (const auto& [path, status] :
       std::vector<std::pair<std::string, std::string>>{{"/forwarded", "200"},
                                                        {"/respond", "200"},
                                                        {"/redirect", "302"},
                                                        {"/missing", "404"},
                                                        {"/broken", "502"}}) {
    const auto [got_status, sts] = get(true, path);
    EXPECT_EQ(got_status, status) << path;
    EXPECT_EQ(sts, expected) << path;
  }
}

TEST_F(Hsts, PlainListenerNeverSendsIt) {
  for (const auto& [path, status] :
       std::vector<std::pair<std::string, std::string>>{{"/forwarded", "200"},
                                                        {"/respond", "200"},
                                                        {"/redirect", "302"},
                                                        {"/missing", "404"},
                                                        {"/broken", "502"}}) {
    const auto [got_status, sts] = get(false, path);
    EXPECT_EQ(got_status, status) << path;
    EXPECT_TRUE(sts.empty()) << path << ": " << (sts.empty() ? "" : sts[0]);
  }
}

TEST_F(Hsts, BackendsOwnHeaderIsKeptAndNotDuplicated) {
  const auto [status, sts] = get(true, "/own-sts");
  EXPECT_EQ(status, "200");
  EXPECT_EQ(sts, std::vector<std::string>{"max-age=5"});
}

// ------------------------------------------------------------ redirect

TEST(TlsRedirect, PlainRouteSendsClientsToHttpsWithoutThePlainPort) {
  TempDir dir;
  TestPki pki(dir.path().string());
  const IssuedCert site = pki.issue("site", named({"www.example.com"}, "www"));
  SluiceInstance sluice(
      "workers: 1\n"
      "listeners:\n"
      "  - name: plain\n"
      "    listen: 127.0.0.1:0\n"
      "  - name: secure\n"
      "    listen: 127.0.0.1:0\n"
      "    tls:\n"
      "      certificates:\n" +
      entry(site) +
      "routes:\n"
      "  - name: to-https\n"
      "    listeners: [plain]\n"
      "    redirect: {scheme: https}\n"
      "  - name: moved-to-https\n"
      "    listeners: [plain]\n"
      "    match: {path: /moved/}\n"
      "    redirect: {scheme: https, status: 301}\n"
      "  - name: renamed\n"
      "    listeners: [secure]\n"
      "    match: {path: /old}\n"
      "    redirect: {path: /new}\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string plain = std::to_string(sluice.port("plain"));
  const std::string resolve = "www.example.com:" + plain + ":127.0.0.1";

  auto r = curl({"-D", "-", "-o", "/dev/null", "--resolve", resolve,
                 "http://www.example.com:" + plain + "/a/b?c=d"});
  EXPECT_EQ(r.output.substr(0, 12), "HTTP/1.1 302") << r.output;
  EXPECT_EQ(header_values(r.output, "location"),
            std::vector<std::string>{"https://www.example.com/a/b?c=d"})
      << r.output;

  r = curl({"-D", "-", "-o", "/dev/null", "--resolve", resolve,
            "http://www.example.com:" + plain + "/moved/x"});
  EXPECT_EQ(r.output.substr(0, 12), "HTTP/1.1 301") << r.output;
  EXPECT_EQ(header_values(r.output, "location"),
            std::vector<std::string>{"https://www.example.com/moved/x"})
      << r.output;

  // On the TLS listener a redirect that names no scheme stays on https.
  const std::uint16_t secure = sluice.port("secure");
  auto args = curl_tls(pki.ca_path(), "www.example.com", secure);
  args.insert(args.end(),
              {"-D", "-", "-o", "/dev/null", https_url("www.example.com", secure, "/old")});
  r = curl(args);
  EXPECT_EQ(r.output.substr(0, 12), "HTTP/1.1 302") << r.output;
  EXPECT_EQ(header_values(r.output, "location"),
            std::vector<std::string>{"https://www.example.com:" + std::to_string(secure) + "/new"})
      << r.output;
}

}  // namespace
}  // namespace sluice::test
