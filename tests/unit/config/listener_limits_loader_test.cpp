// A listener's max_connections: accepted values, the default (no cap), and
// the errors for values out of range, with file:line:col.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::config {
namespace {

LoadResult load_listener(const std::string& fields) {
  return load_string("listeners:\n  - {name: web, listen: '127.0.0.1:0'" + fields +
                         "}\nroutes: [{respond: {status: 200}}]\n",
                     "f.yaml");
}

TEST(ListenerLimitsConfig, ListenersHaveNoConnectionCapUnlessConfigured) {
  const auto r = load_listener("");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.config->listeners[0].max_connections);
}

TEST(ListenerLimitsConfig, MaxConnectionsIsReadOnHttpAndTcpListeners) {
  const auto http = load_listener(", max_connections: 3");
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http.config->listeners[0].max_connections, 3u);

  const auto tcp = load_string(
      "listeners:\n  - {name: db, listen: '127.0.0.1:0', protocol: tcp, backend: pg, "
      "max_connections: 10000000}\nbackends: {pg: {servers: ['127.0.0.1:5432']}}\n",
      "f.yaml");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp.config->listeners[0].max_connections, 10'000'000u);
  EXPECT_TRUE(tcp.diagnostics.empty()) << "no 'ignored on a tcp listener' warning";
}

TEST(ListenerLimitsConfig, MaxConnectionsOutOfRangeIsAnErrorAtItsValue) {
  for (const char* value : {"0", "-1", "10000001", "lots", "1.5"}) {
    const auto r = load_listener(std::string(", max_connections: ") + value);
    EXPECT_FALSE(r.ok()) << value;
    ASSERT_EQ(r.diagnostics.size(), 1u) << value;
    const Diagnostic& d = r.diagnostics.front();
    EXPECT_EQ(d.message,
              std::string("listener 'web': max_connections: expected a whole number from 1 "
                          "to 10000000, got '") +
                  value + "'")
        << value;
    EXPECT_EQ(d.line, 2);
    EXPECT_EQ(d.column, 57);
  }
}

}  // namespace
}  // namespace sluice::config
