// A listener's max_connections and defer_accept: accepted values, the
// defaults, and the errors for values out of range, with file:line:col.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>

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

TEST(ListenerLimitsConfig, DeferAcceptIsUnsetUnlessWrittenSoTheProtocolDecides) {
  const auto r = load_listener("");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.config->listeners[0].defer_accept);
}

TEST(ListenerLimitsConfig, DeferAcceptTakesTrueFalseOrADuration) {
  using std::chrono::milliseconds;
  const std::pair<const char*, milliseconds> cases[] = {
      {"true", milliseconds(1000)}, {"false", milliseconds(0)},    {"0s", milliseconds(0)},
      {"500ms", milliseconds(500)}, {"30s", milliseconds(30'000)}, {"2m", milliseconds(120'000)}};
  for (const auto& [text, want] : cases) {
    const auto r = load_listener(std::string(", defer_accept: ") + text);
    ASSERT_TRUE(r.ok()) << text;
    ASSERT_TRUE(r.config->listeners[0].defer_accept) << text;
    EXPECT_EQ(*r.config->listeners[0].defer_accept, want) << text;
  }
  // A tcp listener takes it too, for protocols whose client speaks first.
  const auto tcp = load_string(
      "listeners:\n  - {name: tls, listen: '127.0.0.1:0', protocol: tcp, backend: b, "
      "defer_accept: 3s}\nbackends: {b: {servers: ['127.0.0.1:8443']}}\n",
      "f.yaml");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(*tcp.config->listeners[0].defer_accept, std::chrono::seconds(3));
  EXPECT_TRUE(tcp.diagnostics.empty()) << "no 'ignored on a tcp listener' warning";
}

TEST(ListenerLimitsConfig, DeferAcceptThatIsNeitherABooleanNorADurationUpTo120sIsAnError) {
  const std::pair<const char*, const char*> cases[] = {
      {"yes", "expected true, false or a duration such as 1s, got 'yes'"},
      {"-1s", "expected true, false or a duration such as 1s, got '-1s'"},
      {"121s", "at most 120s, got '121s'"},
      {"1h", "at most 120s, got '1h'"}};
  for (const auto& [value, message] : cases) {
    const auto r = load_listener(std::string(", defer_accept: ") + value);
    EXPECT_FALSE(r.ok()) << value;
    ASSERT_EQ(r.diagnostics.size(), 1u) << value;
    const Diagnostic& d = r.diagnostics.front();
    EXPECT_EQ(d.message, std::string("listener 'web': defer_accept: ") + message);
    EXPECT_EQ(d.line, 2);
    EXPECT_EQ(d.column, 54);
  }
}

}  // namespace
}  // namespace sluice::config
