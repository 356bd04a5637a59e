// The TLS keys of the configuration: a listener's 'tls' block, a tcp
// listener's 'sni_routes' and a backend's 'tls' block. Every accepted value
// and what it loads as; every rejection with its file:line:col and reason.
// Certificate paths point at real files in a temporary directory, since a
// path that cannot be read is an error at load.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"
#include "support/temp_dir.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::position_of;

using std::chrono::milliseconds;

constexpr milliseconds kYear{365LL * 24 * 3600 * 1000};

std::size_t count(const LoadResult& r, Severity severity) {
  std::size_t n = 0;
  for (const auto& d : r.diagnostics)
    n += d.severity == severity ? 1 : 0;
  return n;
}

std::string indent(std::string_view lines, int spaces) {
  std::string out;
  std::size_t start = 0;
  while (start < lines.size()) {
    const auto end = std::min(lines.find('\n', start), lines.size());
    out += std::string(static_cast<std::size_t>(spaces), ' ') +
           std::string(lines.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

constexpr const char* kPair = "certificates: [{cert: site.pem, key: site.key}]\n";

class TlsConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("site.pem", "chain\n");
    dir_.write("site.key", "key\n");
    dir_.write("ca.pem", "ca\n");
    dir_.write("client.pem", "client chain\n");
    dir_.write("client.key", "client key\n");
    std::filesystem::create_directory(dir_.path() / "certs");
  }

  std::string dir() const { return dir_.path().string(); }
  std::string in_dir(std::string_view name) const { return dir() + "/" + std::string(name); }

  LoadResult load(const std::string& yaml) const { return load_string(yaml, "f.yaml", dir()); }

  // An http listener 'web' whose tls block holds `tls` (block lines).
  static std::string http_tls(std::string_view tls) {
    return "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    tls:\n" + indent(tls, 6) +
           "routes: [{respond: {status: 200}}]\n";
  }
  // A tcp listener 'db' with `extra` (block lines), and backends pg and pg2.
  static std::string tcp_listener(std::string_view extra) {
    return "listeners:\n  - name: db\n    listen: 127.0.0.1:0\n    protocol: tcp\n" +
           indent(extra, 4) +
           "backends:\n  pg: {servers: ['127.0.0.1:5432']}\n  pg2: {servers: "
           "['127.0.0.1:5433']}\n";
  }
  // A backend 'app', reached by an http listener's route, with `tls` as
  // written after "tls:" (a flow map, or a scalar).
  static std::string backend_tls(std::string_view tls) {
    return "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes: [{backend: app}]\n"
           "backends:\n  app:\n    servers: ['127.0.0.1:8443']\n    tls: " +
           std::string(tls) + "\n";
  }

  // Exactly one error, at the start of `at` in `yaml`, saying `message`
  // ("{dir}" in it stands for the temporary directory).
  void expect_error(const std::string& yaml, std::string_view at, std::string message) const {
    SCOPED_TRACE(yaml);
    for (auto p = message.find("{dir}"); p != std::string::npos; p = message.find("{dir}"))
      message.replace(p, 5, dir());
    const SourceLocation want = position_of(yaml, at);
    ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
    const auto r = load(yaml);
    EXPECT_FALSE(r.ok());
    ASSERT_EQ(count(r, Severity::error), 1u) << dump(r);
    const Diagnostic* d = nullptr;
    for (const auto& x : r.diagnostics)
      if (x.severity == Severity::error) d = &x;
    EXPECT_EQ(d->file, "f.yaml");
    EXPECT_EQ(d->message, message) << dump(r);
    EXPECT_EQ(d->line, want.line) << dump(r);
    EXPECT_EQ(d->column, want.column) << dump(r);
  }

  test::TempDir dir_;
};

// ------------------------------------------------------------ accepted

TEST_F(TlsConfig, ListenerTlsWithOnePairHasTheDefaults) {
  const std::string yaml = http_tls(kPair);
  const auto r = load(yaml);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Tls& t = *r.config->listeners[0].tls;
  ASSERT_EQ(t.certificates.size(), 1u);
  EXPECT_EQ(t.certificates[0].cert, in_dir("site.pem"));
  EXPECT_EQ(t.certificates[0].key, in_dir("site.key"));
  EXPECT_EQ(t.certificates[0].directory, "");
  EXPECT_EQ(t.certificates[0].where.line, position_of(yaml, "{cert").line);
  EXPECT_EQ(t.certificates[0].where.column, position_of(yaml, "{cert").column);
  EXPECT_EQ(t.where.line, 5);
  EXPECT_EQ(t.min_version, TlsVersion::tls1_2);
  EXPECT_EQ(t.ciphers, "");
  EXPECT_EQ(t.ciphersuites, "");
  EXPECT_EQ(t.curves, "");
  EXPECT_TRUE(t.alpn.empty());
  EXPECT_FALSE(t.client_auth);
  EXPECT_TRUE(t.session_tickets);
  EXPECT_EQ(t.session_cache_size, 20'000u);
  EXPECT_EQ(t.session_timeout, milliseconds(7'200'000));
  EXPECT_FALSE(t.hsts);
  EXPECT_FALSE(t.ktls);
}

TEST_F(TlsConfig, CertificatesMayBeDirectoriesAndMayRepeat) {
  const auto r =
      load(http_tls("certificates:\n  - directory: certs\n  - {cert: site.pem, key: site.key}\n"
                    "  - {cert: site.pem, key: site.key}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const auto& certs = r.config->listeners[0].tls->certificates;
  ASSERT_EQ(certs.size(), 3u);
  EXPECT_EQ(certs[0].directory, in_dir("certs"));
  EXPECT_EQ(certs[0].cert, "");
  EXPECT_EQ(certs[0].key, "");
  EXPECT_EQ(certs[0].where.line, 6);
  EXPECT_EQ(certs[1].cert, in_dir("site.pem"));
  EXPECT_EQ(certs[2].cert, in_dir("site.pem"));
  EXPECT_EQ(certs[2].where.line, 8);
}

TEST_F(TlsConfig, AbsolutePathsAreKeptAsWritten) {
  const auto r = load(http_tls(
      "certificates: [{cert: " + in_dir("site.pem") + ", key: " + in_dir("site.key") +
      "}, {directory: " + in_dir("certs") + "}]\nclient_auth: {ca: " + in_dir("ca.pem") + "}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const Tls& t = *r.config->listeners[0].tls;
  EXPECT_EQ(t.certificates[0].cert, in_dir("site.pem"));
  EXPECT_EQ(t.certificates[0].key, in_dir("site.key"));
  EXPECT_EQ(t.certificates[1].directory, in_dir("certs"));
  EXPECT_EQ(t.client_auth->ca, in_dir("ca.pem"));
}

TEST_F(TlsConfig, RelativePathsAreRelativeToTheConfigurationFile) {
  std::filesystem::create_directory(dir_.path() / "conf");
  const std::string file =
      dir_.write("conf/sluice.yaml", http_tls("certificates: [{cert: "
                                              "../site.pem, key: ../site.key}]\n"));
  const auto r = load_file(file);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls->certificates[0].cert, in_dir("conf/../site.pem"));
}

TEST_F(TlsConfig, EveryListenerTlsKeyWritten) {
  const auto r =
      load(http_tls(std::string(kPair) +
                    "min_version: 1.3\n"
                    "ciphers: ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\n"
                    "ciphersuites: TLS_AES_128_GCM_SHA256\n"
                    "curves: X25519:P-256\n"
                    "alpn: [h2, http/1.1]\n"
                    "client_auth: {ca: ca.pem, mode: optional, header: X-Subject}\n"
                    "session_tickets: false\n"
                    "session_cache_size: 10000000\n"
                    "session_timeout: 5m\n"
                    "hsts: {max_age: 8760h, include_subdomains: true, preload: true}\n"
                    "ktls: true\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Tls& t = *r.config->listeners[0].tls;
  EXPECT_EQ(t.min_version, TlsVersion::tls1_3);
  EXPECT_EQ(t.ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(t.ciphersuites, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(t.curves, "X25519:P-256");
  EXPECT_EQ(t.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  ASSERT_TRUE(t.client_auth);
  EXPECT_EQ(t.client_auth->ca, in_dir("ca.pem"));
  EXPECT_EQ(t.client_auth->mode, ClientAuthMode::optional);
  EXPECT_EQ(t.client_auth->header, "X-Subject");
  EXPECT_EQ(t.client_auth->ca_where.line, 11);
  EXPECT_EQ(t.client_auth->ca_where.column, 25);
  EXPECT_FALSE(t.session_tickets);
  EXPECT_EQ(t.session_cache_size, 10'000'000u);
  EXPECT_EQ(t.session_timeout, milliseconds(300'000));
  ASSERT_TRUE(t.hsts);
  EXPECT_EQ(t.hsts->max_age, kYear);
  EXPECT_TRUE(t.hsts->include_subdomains);
  EXPECT_TRUE(t.hsts->preload);
  EXPECT_TRUE(t.ktls);
}

TEST_F(TlsConfig, MinVersionIsReadAsTextOrAsANumber) {
  for (const char* v : {"1.2", "'1.2'", "\"1.2\""}) {
    const auto r = load(http_tls(std::string(kPair) + "min_version: " + v + "\n"));
    ASSERT_TRUE(r.ok()) << v << "\n" << dump(r);
    EXPECT_EQ(r.config->listeners[0].tls->min_version, TlsVersion::tls1_2) << v;
  }
  for (const char* v : {"1.3", "'1.3'"}) {
    const auto r = load(http_tls(std::string(kPair) + "min_version: " + v + "\n"));
    ASSERT_TRUE(r.ok()) << v << "\n" << dump(r);
    EXPECT_EQ(r.config->listeners[0].tls->min_version, TlsVersion::tls1_3) << v;
  }
}

TEST_F(TlsConfig, SessionCacheMayBeOff) {
  const auto r = load(http_tls(std::string(kPair) + "session_cache_size: 0\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls->session_cache_size, 0u);
}

TEST_F(TlsConfig, ClientAuthNeedsOnlyACa) {
  const auto r = load(http_tls(std::string(kPair) + "client_auth: {ca: ca.pem}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const ClientAuth& ca = *r.config->listeners[0].tls->client_auth;
  EXPECT_EQ(ca.ca, in_dir("ca.pem"));
  EXPECT_EQ(ca.mode, ClientAuthMode::required);
  EXPECT_EQ(ca.header, "X-Client-Cert-Subject");
}

TEST_F(TlsConfig, HstsDefaultsToAYearWithoutSubdomains) {
  const auto r = load(http_tls(std::string(kPair) + "hsts: {}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const Hsts& h = *r.config->listeners[0].tls->hsts;
  EXPECT_EQ(h.max_age, kYear);
  EXPECT_FALSE(h.include_subdomains);
  EXPECT_FALSE(h.preload);
}

TEST_F(TlsConfig, HstsMaxAgeZeroIsAcceptedToWithdrawAPolicy) {
  const auto r = load(http_tls(std::string(kPair) + "hsts: {max_age: 0s}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls->hsts->max_age, milliseconds(0));
}

TEST_F(TlsConfig, TlsTerminatesOnTcpListenersToo) {
  const auto r = load(tcp_listener("backend: pg\ntls:\n  " + std::string(kPair)));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls->certificates.size(), 1u);
}

TEST_F(TlsConfig, HstsOnATcpListenerIsWarnedAboutAndIgnored) {
  const std::string yaml =
      tcp_listener("backend: pg\ntls:\n  " + std::string(kPair) + "  hsts: {max_age: 1h}\n");
  const auto r = load(yaml);
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  const Diagnostic& d = r.diagnostics[0];
  EXPECT_EQ(d.severity, Severity::warning);
  EXPECT_EQ(d.message,
            "listener 'db': tls.hsts: ignored on a tcp listener (it is an HTTP response field)");
  EXPECT_EQ(d.line, position_of(yaml, "{max_age").line);
  EXPECT_EQ(d.column, position_of(yaml, "{max_age").column);
  EXPECT_FALSE(r.config->listeners[0].tls->hsts);
}

TEST_F(TlsConfig, ClientCertificatesOnATcpListenerSetNoHeader) {
  const std::string yaml = tcp_listener("backend: pg\ntls:\n  " + std::string(kPair) +
                                        "  client_auth: {ca: ca.pem, header: X-Subject}\n");
  const auto r = load(yaml);
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  const Diagnostic& d = r.diagnostics[0];
  EXPECT_EQ(d.severity, Severity::warning);
  EXPECT_EQ(d.message,
            "listener 'db': tls.client_auth.header: ignored on a tcp listener (no requests)");
  EXPECT_EQ(d.line, position_of(yaml, "X-Subject").line);
  EXPECT_EQ(d.column, position_of(yaml, "X-Subject").column);
  EXPECT_EQ(r.config->listeners[0].tls->client_auth->ca, in_dir("ca.pem"));
}

TEST_F(TlsConfig, SniRoutesAreLowerCasedAndMakeTheBackendAFallback) {
  const std::string yaml = tcp_listener(
      "sni_routes:\n  - {host: DB.Example.com, backend: pg}\n  - {host: '*.example.COM', "
      "backend: pg2}\n");
  const auto r = load(yaml);
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Listener& l = r.config->listeners[0];
  EXPECT_FALSE(l.backend);
  ASSERT_EQ(l.sni_routes.size(), 2u);
  EXPECT_EQ(l.sni_routes[0].host, "db.example.com");
  EXPECT_EQ(l.sni_routes[0].backend, "pg");
  EXPECT_EQ(l.sni_routes[0].host_where.line, 6);
  EXPECT_EQ(l.sni_routes[0].host_where.column, 16);
  EXPECT_EQ(l.sni_routes[0].backend_where.line, 6);
  EXPECT_EQ(l.sni_routes[0].backend_where.column, 41);
  EXPECT_EQ(l.sni_routes[1].host, "*.example.com");
  EXPECT_EQ(l.sni_routes[1].backend, "pg2");

  const auto with_fallback =
      load(tcp_listener("backend: pg2\nsni_routes: [{host: db.example.com, backend: pg}]\n"));
  ASSERT_TRUE(with_fallback.ok()) << dump(with_fallback);
  EXPECT_EQ(with_fallback.config->listeners[0].backend, "pg2");
  EXPECT_EQ(with_fallback.config->listeners[0].sni_routes.size(), 1u);
}

TEST_F(TlsConfig, BackendTlsWithEveryKey) {
  const auto r = load(backend_tls(
      "{verify: false, sni: API.internal, alpn: [http/1.1], certificate: client.pem, key: "
      "client.key}"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const BackendTls& t = *r.config->backends[0].tls;
  EXPECT_FALSE(t.verify);
  EXPECT_EQ(t.ca, "");
  EXPECT_EQ(t.sni, "api.internal");
  EXPECT_EQ(t.alpn, (std::vector<std::string>{"http/1.1"}));
  EXPECT_EQ(t.certificate, in_dir("client.pem"));
  EXPECT_EQ(t.key, in_dir("client.key"));
  EXPECT_EQ(t.where.line, 6);
  EXPECT_EQ(t.where.column, 10);
}

TEST_F(TlsConfig, BackendTlsWithACaAndNoSni) {
  const auto r = load(backend_tls("{ca: ca.pem, sni: ''}"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const BackendTls& t = *r.config->backends[0].tls;
  EXPECT_TRUE(t.verify);
  EXPECT_EQ(t.ca, in_dir("ca.pem"));
  EXPECT_EQ(t.sni, "");  // written empty: send none
}

TEST_F(TlsConfig, BackendTlsTrueIsTheDefaults) {
  for (const char* v : {"true", "{}"}) {
    const auto r = load(backend_tls(v));
    ASSERT_TRUE(r.ok()) << v << "\n" << dump(r);
    ASSERT_TRUE(r.config->backends[0].tls) << v;
    const BackendTls& t = *r.config->backends[0].tls;
    EXPECT_TRUE(t.verify);
    EXPECT_EQ(t.ca, "");
    EXPECT_FALSE(t.sni);  // the server's host name
    EXPECT_TRUE(t.alpn.empty());
    EXPECT_EQ(t.certificate, "");
  }
  const auto off = load(backend_tls("false"));
  ASSERT_TRUE(off.ok()) << dump(off);
  EXPECT_FALSE(off.config->backends[0].tls);
}

TEST_F(TlsConfig, BackendCaIgnoredWithoutVerifyIsWarnedAbout) {
  const std::string yaml = backend_tls("{verify: false, ca: ca.pem}");
  const auto r = load(yaml);
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
  EXPECT_EQ(r.diagnostics[0].message, "backend 'app': tls.ca: not used, since verify is false");
  EXPECT_EQ(r.diagnostics[0].column, position_of(yaml, "ca.pem").column);
}

// ------------------------------------------------------------ rejected

TEST_F(TlsConfig, CertificatesMustBeANonEmptyList) {
  expect_error(http_tls("min_version: 1.2\n"), "min_version",
               "listener 'web': tls: missing required key 'certificates'");
  expect_error(http_tls("certificates: []\n"), "[]",
               "listener 'web': tls.certificates: expected a non-empty list of {cert, key} or "
               "{directory}, got a list");
  expect_error(http_tls("certificates: site.pem\n"), "site.pem",
               "listener 'web': tls.certificates: expected a non-empty list of {cert, key} or "
               "{directory}, got 'site.pem'");
  expect_error(http_tls("certificates: [site.pem]\n"), "site.pem",
               "listener 'web': tls.certificates: expected a map of settings, got 'site.pem'");
}

TEST_F(TlsConfig, ACertificateEntryIsAPairOrADirectory) {
  expect_error(http_tls("certificates: [{cert: site.pem}]\n"), "{cert",
               "listener 'web': tls.certificates: missing required key 'key'");
  expect_error(http_tls("certificates: [{key: site.key}]\n"), "{key",
               "listener 'web': tls.certificates: missing required key 'cert'");
  expect_error(http_tls("certificates: [{}]\n"), "{}",
               "listener 'web': tls.certificates: expected {cert, key} or {directory}, got an "
               "empty map");
  expect_error(http_tls("certificates: [{cert: site.pem, key: site.key, directory: certs}]\n"),
               "{cert",
               "listener 'web': tls.certificates: give either cert and key, or directory, not "
               "both (a directory's files each hold a chain and its key)");
  expect_error(
      http_tls("certificates: [{cert: site.pem, key: site.key, directry: certs}]\n"), "directry",
      "listener 'web': tls.certificates: unknown key 'directry' (did you mean 'directory'?)");
  expect_error(http_tls("certificates: [{cert: site.pem, keys: site.key}]\n"), "keys",
               "listener 'web': tls.certificates: unknown key 'keys' (did you mean 'key'?)");
}

TEST_F(TlsConfig, CertificateFilesMustExist) {
  expect_error(http_tls("certificates: [{cert: nope.pem, key: site.key}]\n"), "nope.pem",
               "listener 'web': tls.certificates.cert: cannot read {dir}/nope.pem: No such file "
               "or directory");
  expect_error(http_tls("certificates: [{cert: site.pem, key: /no/such.key}]\n"), "/no/such.key",
               "listener 'web': tls.certificates.key: cannot read /no/such.key: No such file or "
               "directory");
  expect_error(http_tls("certificates: [{cert: certs, key: site.key}]\n"), "certs",
               "listener 'web': tls.certificates.cert: {dir}/certs is a directory, expected a "
               "PEM file");
  expect_error(http_tls("certificates: [{directory: site.pem}]\n"), "site.pem",
               "listener 'web': tls.certificates.directory: {dir}/site.pem is not a directory");
  expect_error(http_tls("certificates: [{directory: gone}]\n"), "gone",
               "listener 'web': tls.certificates.directory: cannot read {dir}/gone: No such file "
               "or directory");
}

TEST_F(TlsConfig, AnUnreadableKeyIsAnError) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  const std::string key = dir_.write("secret.key", "key\n");
  ASSERT_EQ(chmod(key.c_str(), 0), 0);
  expect_error(http_tls("certificates: [{cert: site.pem, key: secret.key}]\n"), "secret.key",
               "listener 'web': tls.certificates.key: cannot read {dir}/secret.key: Permission "
               "denied");
}

TEST_F(TlsConfig, OnlyTls12And13AreOffered) {
  for (const char* v : {"1.0", "1.1", "'1.1'"}) {
    const std::string text = std::string(v).find('\'') == 0 ? "1.1" : v;
    expect_error(http_tls(std::string(kPair) + "min_version: " + v + "\n"), v,
                 "listener 'web': tls.min_version: TLS " + text +
                     " is not offered: sluice speaks TLS 1.2 and 1.3 only (1.0 and 1.1 are "
                     "deprecated, RFC 8996), so expected 1.2 or 1.3");
  }
  expect_error(http_tls(std::string(kPair) + "min_version: TLSv1.2\n"), "TLSv1.2",
               "listener 'web': tls.min_version: expected 1.2 or 1.3, got 'TLSv1.2'");
  expect_error(http_tls(std::string(kPair) + "min_version: 1.4\n"), "1.4",
               "listener 'web': tls.min_version: expected 1.2 or 1.3, got '1.4'");
  expect_error(http_tls(std::string(kPair) + "min_version: [1.2]\n"), "[1.2]",
               "listener 'web': tls.min_version: expected a single value, got a list");
}

TEST_F(TlsConfig, CipherSettingsMustNotBeEmpty) {
  for (const char* key : {"ciphers", "ciphersuites", "curves"}) {
    expect_error(http_tls(std::string(kPair) + key + ": ''\n"), "''",
                 std::string("listener 'web': tls.") + key + ": must not be empty");
    expect_error(
        http_tls(std::string(kPair) + key + ": [a, b]\n"), "[a, b]",
        std::string("listener 'web': tls.") + key + ": expected a single value, got a list");
  }
}

TEST_F(TlsConfig, AlpnIsAListOfDistinctProtocolNames) {
  const std::string p(kPair);
  expect_error(http_tls(p + "alpn: []\n"), "[]",
               "listener 'web': tls.alpn: expected a non-empty list of protocol names such as "
               "http/1.1 (leave alpn out for the default)");
  expect_error(http_tls(p + "alpn: http/1.1\n"), "http/1.1",
               "listener 'web': tls.alpn: expected a list, got 'http/1.1'");
  expect_error(http_tls(p + "alpn: [h2, '']\n"), "''",
               "listener 'web': tls.alpn: must not be empty");
  expect_error(http_tls(p + "alpn: ['http 1.1']\n"), "'http 1.1'",
               "listener 'web': tls.alpn: 'http 1.1' is not a protocol name: 1 to 255 visible "
               "ASCII characters, without spaces (RFC 7301 §3.1)");
  const std::string long_name(256, 'x');
  expect_error(http_tls(p + "alpn: [" + long_name + "]\n"), long_name,
               "listener 'web': tls.alpn: '" + std::string(60, 'x') +
                   "...' is not a protocol name: 1 to 255 visible ASCII characters, without "
                   "spaces (RFC 7301 §3.1)");
  expect_error(http_tls(p + "alpn: [http/1.1, h2, http/1.1]\n"), "http/1.1]",
               "listener 'web': tls.alpn: 'http/1.1' appears twice (first on line 6)");
}

TEST_F(TlsConfig, AlpnNamesUpTo255BytesAreAccepted) {
  const auto r = load(http_tls(std::string(kPair) + "alpn: [" + std::string(255, 'x') + "]\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->listeners[0].tls->alpn[0].size(), 255u);
}

TEST_F(TlsConfig, ClientAuthRejections) {
  const std::string p(kPair);
  expect_error(http_tls(p + "client_auth: {mode: optional}\n"), "{mode",
               "listener 'web': tls.client_auth: missing required key 'ca'");
  expect_error(http_tls(p + "client_auth: {ca: ca.pem, mode: sometimes}\n"), "sometimes",
               "listener 'web': tls.client_auth.mode: expected required or optional, got "
               "'sometimes'");
  expect_error(http_tls(p + "client_auth: {ca: ca.pem, header: 'X Subject'}\n"), "'X Subject'",
               "listener 'web': tls.client_auth.header: 'X Subject' is not a valid header field "
               "name");
  expect_error(http_tls(p + "client_auth: {ca: missing.pem}\n"), "missing.pem",
               "listener 'web': tls.client_auth.ca: cannot read {dir}/missing.pem: No such file "
               "or directory");
  expect_error(http_tls(p + "client_auth: {ca: ca.pem, modes: optional}\n"), "modes",
               "listener 'web': tls.client_auth: unknown key 'modes' (did you mean 'mode'?)");
  expect_error(http_tls(p + "client_auth: required\n"), "required",
               "listener 'web': tls.client_auth: expected a map of settings, got 'required'");
}

TEST_F(TlsConfig, SessionRejections) {
  const std::string p(kPair);
  expect_error(http_tls(p + "session_tickets: maybe\n"), "maybe",
               "listener 'web': tls.session_tickets: expected true or false, got 'maybe'");
  for (const char* v : {"-1", "10000001", "lots"}) {
    expect_error(http_tls(p + "session_cache_size: " + v + "\n"), v,
                 std::string("listener 'web': tls.session_cache_size: expected a whole number "
                             "from 0 to 10000000, got '") +
                     v + "'");
  }
  expect_error(http_tls(p + "session_timeout: 0s\n"), "0s",
               "listener 'web': tls.session_timeout: must be longer than 0");
  expect_error(http_tls(p + "session_timeout: 300\n"), "300",
               "listener 'web': tls.session_timeout: expected a duration such as 250ms, 3s or "
               "5m, got '300'");
}

TEST_F(TlsConfig, HstsRejections) {
  const std::string p(kPair);
  expect_error(http_tls(p + "hsts: {max_age: 8760h, preload: true}\n"), "true}",
               "listener 'web': tls.hsts.preload: requires include_subdomains: true "
               "(hstspreload.org refuses a policy without it)");
  expect_error(http_tls(p + "hsts: {max_age: 8759h, include_subdomains: true, preload: true}\n"),
               "true}",
               "listener 'web': tls.hsts.preload: requires max_age of at least 8760h, a year "
               "(hstspreload.org refuses a shorter policy)");
  expect_error(http_tls(p + "hsts: {max_age: 1y}\n"), "1y",
               "listener 'web': tls.hsts.max_age: expected a duration such as 250ms, 3s or 5m, "
               "got '1y'");
  expect_error(http_tls(p + "hsts: {max_age: 1h, include_subdomain: true}\n"), "include_subdomain",
               "listener 'web': tls.hsts: unknown key 'include_subdomain' (did you mean "
               "'include_subdomains'?)");
  expect_error(http_tls(p + "hsts: {preload: sure}\n"), "sure",
               "listener 'web': tls.hsts.preload: expected true or false, got 'sure'");
  expect_error(http_tls(p + "hsts: true\n"), "true",
               "listener 'web': tls.hsts: expected a map of settings, got 'true'");
}

TEST_F(TlsConfig, OtherListenerTlsRejections) {
  const std::string p(kPair);
  expect_error(http_tls(p + "ktls: sometimes\n"), "sometimes",
               "listener 'web': tls.ktls: expected true or false, got 'sometimes'");
  expect_error(http_tls(p + "min_versoin: 1.3\n"), "min_versoin",
               "listener 'web': tls: unknown key 'min_versoin' (did you mean 'min_version'?)");
  expect_error(http_tls("certificate: [{cert: site.pem, key: site.key}]\n"), "certificate",
               "listener 'web': tls: unknown key 'certificate' (did you mean 'certificates'?)");
  const std::string not_a_map =
      "listeners: [{name: web, listen: '127.0.0.1:0', tls: true}]\nroutes: [{respond: {}}]\n";
  expect_error(not_a_map, "true", "listener 'web': tls: expected a map of settings, got 'true'");
}

TEST_F(TlsConfig, SniRoutesAreForTcpListenersOnly) {
  const std::string yaml =
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    sni_routes: [{host: a.example, "
      "backend: pg}]\nbackends: {pg: {servers: ['127.0.0.1:1']}}\n";
  expect_error(yaml, "[{host",
               "listener 'web': sni_routes: only tcp listeners route by server name; http "
               "listeners reach backends through routes (match.host)");
}

TEST_F(TlsConfig, ATcpListenerWithoutSniRoutesStillNeedsABackend) {
  const std::string yaml = tcp_listener("timeouts: {idle: 5s}\n");
  expect_error(yaml, "name: db",
               "listener 'db': missing required key 'backend' (a tcp listener forwards to one "
               "backend, or routes by sni_routes)");
}

TEST_F(TlsConfig, SniRouteHostsMustBeServerNames) {
  for (const char* host : {"db.example.com:5432", "'*.'", "a.*.example.com", "'*'", "10.0.0.1",
                           "'db example.com'", "'*example.com'", "db.example.com."}) {
    std::string shown = host;
    if (shown.front() == '\'') shown = shown.substr(1, shown.size() - 2);
    expect_error(tcp_listener(std::string("sni_routes: [{host: ") + host + ", backend: pg}]\n"),
                 host,
                 "listener 'db': sni_routes.host: expected a server name such as db.example.com "
                 "or *.example.com (a '*' only as the whole first label, no port, no address), "
                 "got '" +
                     shown + "'");
  }
}

TEST_F(TlsConfig, SniRouteHostsAreDistinctWhateverTheirCase) {
  const std::string yaml = tcp_listener(
      "sni_routes:\n  - {host: db.example.com, backend: pg}\n  - {host: DB.example.com, "
      "backend: pg2}\n");
  expect_error(yaml, "DB.example",
               "listener 'db': sni_routes.host: 'db.example.com' is routed twice (first on line "
               "6, column 16)");
}

TEST_F(TlsConfig, SniRouteBackendsMustBeDefined) {
  const std::string yaml = tcp_listener("sni_routes: [{host: db.example.com, backend: pgg}]\n");
  expect_error(yaml, "pgg",
               "listener 'db': sni_routes: host 'db.example.com' refers to backend 'pgg', which "
               "is not defined (did you mean 'pg'?)");
}

TEST_F(TlsConfig, SniRouteShapeRejections) {
  expect_error(tcp_listener("sni_routes: []\n"), "[]",
               "listener 'db': sni_routes: expected a non-empty list of {host, backend}, got a "
               "list");
  expect_error(tcp_listener("sni_routes: [{host: db.example.com}]\n"), "{host",
               "listener 'db': sni_routes: missing required key 'backend'");
  expect_error(tcp_listener("sni_routes: [{backend: pg}]\n"), "{backend",
               "listener 'db': sni_routes: missing required key 'host'");
  expect_error(tcp_listener("sni_routes: [{hots: db.example.com, backend: pg}]\n"), "hots",
               "listener 'db': sni_routes: unknown key 'hots' (did you mean 'host'?)");
}

TEST_F(TlsConfig, BackendTlsRejections) {
  expect_error(backend_tls("{certificate: client.pem}"), "client.pem",
               "backend 'app': tls.certificate: requires key, its private key");
  expect_error(backend_tls("{key: client.key}"), "client.key",
               "backend 'app': tls.key: requires certificate, the chain it belongs to");
  expect_error(backend_tls("{ca: nope.pem}"), "nope.pem",
               "backend 'app': tls.ca: cannot read {dir}/nope.pem: No such file or directory");
  expect_error(backend_tls("{certificate: client.pem, key: gone.key}"), "gone.key",
               "backend 'app': tls.key: cannot read {dir}/gone.key: No such file or directory");
  expect_error(backend_tls("{certificate: nope.pem, key: client.key}"), "nope.pem",
               "backend 'app': tls.certificate: cannot read {dir}/nope.pem: No such file or "
               "directory");
  for (const char* sni : {"10.0.0.1", "'bad name'", "api.internal:443"}) {
    std::string shown = sni;
    if (shown.front() == '\'') shown = shown.substr(1, shown.size() - 2);
    expect_error(backend_tls(std::string("{sni: ") + sni + "}"), sni,
                 "backend 'app': tls.sni: expected a server name such as api.internal (or \"\" "
                 "to send none), got '" +
                     shown + "'; an address is never sent as SNI (RFC 6066 §3)");
  }
  expect_error(backend_tls("{verify: maybe}"), "maybe",
               "backend 'app': tls.verify: expected true or false, got 'maybe'");
  expect_error(backend_tls("{verfy: false}"), "verfy",
               "backend 'app': tls: unknown key 'verfy' (did you mean 'verify'?)");
  expect_error(backend_tls("{alpn: [h2, h2]}"), "h2]",
               "backend 'app': tls.alpn: 'h2' appears twice (first on line 6)");
  expect_error(backend_tls("sometimes"), "sometimes",
               "backend 'app': tls: expected true or false, got 'sometimes'");
}

}  // namespace
}  // namespace sluice::config
