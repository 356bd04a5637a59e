// timeouts.header on tcp listeners: it bounds the PROXY header, the TLS
// handshake and the ClientHello that sni_routes reads, so it is warned
// about only on a tcp listener that reads none of them.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::config {
namespace {

LoadResult load_tcp(const std::string& fields) {
  return load_string("listeners:\n  - {name: db, listen: '127.0.0.1:0', protocol: tcp, " + fields +
                         ", timeouts: {header: 500ms}}\n"
                         "backends: {pg: {servers: ['127.0.0.1:5432']}}\n",
                     "f.yaml");
}

TEST(TcpHeaderTimeoutConfig, ReadWithoutWarningWhereItBoundsSomething) {
  for (const char* fields :
       {"backend: pg, proxy_protocol: true", "sni_routes: [{host: a.example.com, backend: pg}]"}) {
    const auto r = load_tcp(fields);
    ASSERT_TRUE(r.ok()) << fields;
    EXPECT_TRUE(r.diagnostics.empty()) << fields << ": " << r.diagnostics.front().message;
    EXPECT_EQ(r.config->listeners[0].timeouts.header.count(), 500) << fields;
  }
}

TEST(TcpHeaderTimeoutConfig, WarnedAtItsValueOnAPlainTcpListener) {
  const auto r = load_tcp("backend: pg");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  const Diagnostic& d = r.diagnostics.front();
  EXPECT_EQ(d.message,
            "listener 'db': timeouts.header: ignored on a tcp listener without proxy_protocol, "
            "tls or sni_routes");
  EXPECT_EQ(d.line, 2);
}

}  // namespace
}  // namespace sluice::config
