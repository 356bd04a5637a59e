// A backend's `protocol`: http1 (the default), h2 (HTTP/2 over TLS, ALPN
// h2) and h2c (cleartext HTTP/2 with prior knowledge). Every accepted value
// and what it loads as; every rejection with its file:line:col and reason.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::position_of;

// A backend 'app' reached by an http listener, with `extra` lines under it.
std::string backend(std::string_view extra) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes: [{backend: app}]\n"
         "backends:\n  app:\n    servers: ['127.0.0.1:8443']\n" +
         std::string(extra);
}

LoadResult load(const std::string& yaml) {
  return load_string(yaml, "f.yaml", ".");
}

void expect_error(const std::string& yaml, std::string_view at, std::string_view message) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load(yaml);
  EXPECT_FALSE(r.ok());
  std::vector<const Diagnostic*> errors;
  for (const auto& d : r.diagnostics)
    if (d.severity == Severity::error) errors.push_back(&d);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0]->file, "f.yaml");
  EXPECT_EQ(errors[0]->message, message) << dump(r);
  EXPECT_EQ(errors[0]->line, want.line) << dump(r);
  EXPECT_EQ(errors[0]->column, want.column) << dump(r);
}

TEST(BackendProtocol, DefaultsToHttp1) {
  const auto r = load(backend(""));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->backends[0].protocol, BackendProtocol::http1);
}

TEST(BackendProtocol, Http1IsAcceptedWithOrWithoutTls) {
  for (const char* extra :
       {"    protocol: http1\n", "    protocol: http1\n    tls: {verify: false}\n"}) {
    const auto r = load(backend(extra));
    ASSERT_TRUE(r.ok()) << dump(r);
    EXPECT_EQ(r.config->backends[0].protocol, BackendProtocol::http1);
  }
}

TEST(BackendProtocol, H2cIsCleartextHttp2) {
  const auto r = load(backend("    protocol: h2c\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->backends[0].protocol, BackendProtocol::h2c);
  EXPECT_FALSE(r.config->backends[0].tls.has_value());
}

TEST(BackendProtocol, H2OffersAlpnH2WhenNoAlpnIsGiven) {
  const auto r = load(backend("    protocol: h2\n    tls: {verify: false}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  const Backend& b = r.config->backends[0];
  EXPECT_EQ(b.protocol, BackendProtocol::h2);
  ASSERT_TRUE(b.tls.has_value());
  EXPECT_EQ(b.tls->alpn, std::vector<std::string>{"h2"});
}

TEST(BackendProtocol, H2KeepsAnAlpnListThatNamesH2) {
  const auto r =
      load(backend("    protocol: h2\n    tls: {verify: false, alpn: [h2, http/1.1]}\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->backends[0].tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(BackendProtocol, TlsTrueWithH2OffersH2) {
  const auto r = load(backend("    protocol: h2\n    tls: true\n"));
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->backends[0].tls->alpn, std::vector<std::string>{"h2"});
}

TEST(BackendProtocol, H2WithoutTlsIsRefusedAtTheProtocol) {
  expect_error(backend("    protocol: h2\n"), "h2\n",
               "backend 'app': protocol: h2 is HTTP/2 over TLS and needs a tls block; use h2c "
               "for cleartext HTTP/2");
}

TEST(BackendProtocol, H2WithAnAlpnListWithoutH2IsRefusedAtTheList) {
  expect_error(backend("    protocol: h2\n    tls: {verify: false, alpn: [http/1.1]}\n"),
               "[http/1.1]",
               "backend 'app': tls.alpn: protocol h2 needs \"h2\" among the protocols offered");
}

TEST(BackendProtocol, H2cWithTlsIsRefusedAtTheProtocol) {
  expect_error(backend("    protocol: h2c\n    tls: {verify: false}\n"), "h2c",
               "backend 'app': protocol: h2c is cleartext HTTP/2 and cannot go with a tls "
               "block; use h2 for HTTP/2 over TLS");
}

TEST(BackendProtocol, UnknownProtocolIsRefusedWithTheChoices) {
  const std::string yaml = backend("    protocol: http2\n");
  const auto r = load(yaml);
  EXPECT_FALSE(r.ok());
  const std::string all = dump(r);
  EXPECT_NE(all.find("f.yaml:6:15: error:"), std::string::npos) << all;
  EXPECT_NE(all.find("http2"), std::string::npos) << all;
  EXPECT_NE(all.find("h2c"), std::string::npos) << all;
}

// pool.max_h2_connections: HTTP/2 connections per server and worker.
TEST(BackendProtocol, MaxH2ConnectionsLoadsForH2cAndDefaultsTo16) {
  const auto fallback = load(backend("    protocol: h2c\n"));
  ASSERT_TRUE(fallback.ok()) << dump(fallback);
  EXPECT_EQ(fallback.config->backends[0].pool.max_h2_connections, 16);
  const auto set = load(backend("    protocol: h2c\n    pool: {max_h2_connections: 3}\n"));
  ASSERT_TRUE(set.ok()) << dump(set);
  EXPECT_TRUE(set.diagnostics.empty()) << dump(set);
  EXPECT_EQ(set.config->backends[0].pool.max_h2_connections, 3);
}

TEST(BackendProtocol, MaxH2ConnectionsOutOfRangeIsRefusedAtItsValue) {
  for (const char* value : {"0", "1025", "many"}) {
    const std::string yaml =
        backend("    protocol: h2c\n    pool: {max_h2_connections: " + std::string(value) + "}\n");
    const auto r = load(yaml);
    EXPECT_FALSE(r.ok()) << yaml;
    const std::string all = dump(r);
    EXPECT_NE(all.find("f.yaml:7:32: error:"), std::string::npos) << all;
    EXPECT_NE(all.find("max_h2_connections"), std::string::npos) << all;
  }
}

TEST(BackendProtocol, MaxH2ConnectionsOnAnHttp1BackendIsAWarningAtItsValue) {
  const std::string yaml = backend("    pool: {max_h2_connections: 4}\n");
  const auto r = load(yaml);
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::warning);
  EXPECT_EQ(r.diagnostics[0].line, 6);
  EXPECT_EQ(r.diagnostics[0].column, 32);
  EXPECT_NE(r.diagnostics[0].message.find("ignored unless protocol is h2 or h2c"),
            std::string::npos)
      << dump(r);
}

}  // namespace
}  // namespace sluice::config
