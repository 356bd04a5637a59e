// An http listener's 'http2' block (issue 17): the defaults when it is
// absent, every key accepted at its bounds and what it loads as, every
// rejected value with its file:line:col and reason, the block on a tcp
// listener, and "h2" offered by ALPN while HTTP/2 is off.
#include <gtest/gtest.h>

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
using testing::errors;
using testing::position_of;

using std::chrono::milliseconds;

// An http listener 'web' whose http2 block holds `lines` (block lines,
// indented by 6 here).
std::string http2_block(std::string_view lines) {
  std::string body;
  std::size_t start = 0;
  while (start < lines.size()) {
    const auto end = std::min(lines.find('\n', start), lines.size());
    body += "      " + std::string(lines.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    http2:\n" + body +
         "routes: [{respond: {status: 200}}]\n";
}

// Exactly one error, at the start of `at` in `yaml`, saying `message`.
void expect_error(const std::string& yaml, std::string_view at, const std::string& message,
                  std::string_view base_dir = {}) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml", base_dir);
  EXPECT_FALSE(r.ok());
  const auto e = errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->file, "f.yaml");
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

// `key: value` in the http2 block is refused, with `reason` after the key's
// name, at the value.
void expect_value_refused(const std::string& key, const std::string& value,
                          const std::string& reason) {
  const std::string line = key + ": " + value;
  const std::string yaml = http2_block(line);
  // From the value to the end: found first where the value starts.
  const std::string at_value = yaml.substr(yaml.find(line) + key.size() + 2);
  expect_error(yaml, at_value, "listener 'web': http2." + key + ": " + reason);
}

// ------------------------------------------------------------ accepted

TEST(Http2Config, AnHttpListenerWithoutTheBlockSpeaksHttp2WithTheDefaults) {
  const auto r = load_string(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
      "routes: [{respond: {status: 200}}]\n",
      "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Http2& h = r.config->listeners[0].http2;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.max_concurrent_streams, 100u);
  EXPECT_EQ(h.initial_window_size, 65'536u);
  EXPECT_EQ(h.connection_window_size, 1'048'576u);
  EXPECT_EQ(h.max_frame_size, 16'384u);
  EXPECT_EQ(h.max_header_list_size, 0u);
  EXPECT_EQ(h.max_continuations, 8u);
  EXPECT_EQ(h.reset_budget.burst, 100u);
  EXPECT_EQ(h.reset_budget.per_second, 10u);
  EXPECT_EQ(h.control_frame_budget.burst, 1000u);
  EXPECT_EQ(h.control_frame_budget.per_second, 100u);
  EXPECT_EQ(h.stream_idle_timeout, milliseconds(300'000));
  EXPECT_EQ(h.zero_window_timeout, milliseconds(30'000));
  EXPECT_EQ(h.where.line, 0);
  EXPECT_EQ(h.where.column, 0);
}

TEST(Http2Config, EveryKeyIsReadWithSizesAndDurationsInTheirUnits) {
  const std::string yaml = http2_block(
      "enabled: true\n"
      "max_concurrent_streams: 250\n"
      "initial_window_size: 256KiB\n"
      "connection_window_size: 4MiB\n"
      "max_frame_size: 32KiB\n"
      "max_header_list_size: 32KiB\n"
      "max_continuations: 4\n"
      "reset_budget: {burst: 50, per_second: 5}\n"
      "control_frame_budget: {burst: 200, per_second: 20}\n"
      "stream_idle_timeout: 90s\n"
      "zero_window_timeout: 1.5s\n");
  const auto r = load_string(yaml, "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Http2& h = r.config->listeners[0].http2;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.max_concurrent_streams, 250u);
  EXPECT_EQ(h.initial_window_size, 256u * 1024);
  EXPECT_EQ(h.connection_window_size, 4u * 1024 * 1024);
  EXPECT_EQ(h.max_frame_size, 32u * 1024);
  EXPECT_EQ(h.max_header_list_size, 32u * 1024);
  EXPECT_EQ(h.max_continuations, 4u);
  EXPECT_EQ(h.reset_budget.burst, 50u);
  EXPECT_EQ(h.reset_budget.per_second, 5u);
  EXPECT_EQ(h.control_frame_budget.burst, 200u);
  EXPECT_EQ(h.control_frame_budget.per_second, 20u);
  EXPECT_EQ(h.stream_idle_timeout, milliseconds(90'000));
  EXPECT_EQ(h.zero_window_timeout, milliseconds(1'500));
  // The block's place: the first key under 'http2:'.
  EXPECT_EQ(h.where.line, 5);
  EXPECT_EQ(h.where.column, 7);
}

TEST(Http2Config, EnabledFalseTurnsHttp2OffAndKeepsTheOtherDefaults) {
  const auto r = load_string(http2_block("enabled: false\n"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Http2& h = r.config->listeners[0].http2;
  EXPECT_FALSE(h.enabled);
  EXPECT_EQ(h.max_concurrent_streams, 100u);
}

TEST(Http2Config, ABudgetWithOneKeyKeepsTheOtherDefault) {
  const auto r = load_string(
      http2_block("reset_budget: {burst: 7}\ncontrol_frame_budget: {per_second: 3}\n"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Http2& h = r.config->listeners[0].http2;
  EXPECT_EQ(h.reset_budget.burst, 7u);
  EXPECT_EQ(h.reset_budget.per_second, 10u);
  EXPECT_EQ(h.control_frame_budget.burst, 1000u);
  EXPECT_EQ(h.control_frame_budget.per_second, 3u);
}

TEST(Http2Config, EachBoundOfEveryRangeIsAccepted) {
  struct Case {
    std::string line;
    std::uint64_t Http2::*wide = nullptr;
    std::uint32_t Http2::*narrow = nullptr;
    std::uint64_t want = 0;
  };
  const std::vector<Case> cases = {
      {"max_concurrent_streams: 1", nullptr, &Http2::max_concurrent_streams, 1},
      {"max_concurrent_streams: 65535", nullptr, &Http2::max_concurrent_streams, 65'535},
      {"initial_window_size: 1KiB", nullptr, &Http2::initial_window_size, 1024},
      {"initial_window_size: 2147483647", nullptr, &Http2::initial_window_size, 2'147'483'647},
      {"connection_window_size: 65535", nullptr, &Http2::connection_window_size, 65'535},
      {"connection_window_size: 2147483647", nullptr, &Http2::connection_window_size,
       2'147'483'647},
      {"max_frame_size: 16KiB", nullptr, &Http2::max_frame_size, 16'384},
      {"max_frame_size: 16777215", nullptr, &Http2::max_frame_size, 16'777'215},
      {"max_header_list_size: 0", &Http2::max_header_list_size, nullptr, 0},
      {"max_header_list_size: 1KiB", &Http2::max_header_list_size, nullptr, 1024},
      {"max_header_list_size: 16MiB", &Http2::max_header_list_size, nullptr, 16 * 1024 * 1024},
      {"max_continuations: 1", nullptr, &Http2::max_continuations, 1},
      {"max_continuations: 1000", nullptr, &Http2::max_continuations, 1000},
  };
  for (const auto& c : cases) {
    const auto r = load_string(http2_block(c.line), "f.yaml");
    ASSERT_TRUE(r.ok()) << c.line << "\n" << dump(r);
    EXPECT_TRUE(r.diagnostics.empty()) << c.line << "\n" << dump(r);
    const Http2& h = r.config->listeners[0].http2;
    EXPECT_EQ(c.wide ? h.*c.wide : h.*c.narrow, c.want) << c.line;
  }
  const auto r =
      load_string(http2_block("reset_budget: {burst: 1, per_second: 1}\n"
                              "control_frame_budget: {burst: 4294967295, per_second: 4294967295}\n"
                              "stream_idle_timeout: 1ms\nzero_window_timeout: 1ms\n"),
                  "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Http2& h = r.config->listeners[0].http2;
  EXPECT_EQ(h.reset_budget.burst, 1u);
  EXPECT_EQ(h.reset_budget.per_second, 1u);
  EXPECT_EQ(h.control_frame_budget.burst, 4'294'967'295u);
  EXPECT_EQ(h.control_frame_budget.per_second, 4'294'967'295u);
  EXPECT_EQ(h.stream_idle_timeout, milliseconds(1));
  EXPECT_EQ(h.zero_window_timeout, milliseconds(1));
}

TEST(Http2Config, H2InAlpnIsAcceptedWhileHttp2IsEnabled) {
  test::TempDir dir;
  dir.write("site.pem", "chain\n");
  dir.write("site.key", "key\n");
  const auto r = load_string(
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
      "    tls: {certificates: [{cert: site.pem, key: site.key}], alpn: [h2, http/1.1]}\n"
      "routes: [{respond: {status: 200}}]\n",
      "f.yaml", dir.path().string());
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  EXPECT_TRUE(r.config->listeners[0].http2.enabled);
}

// ------------------------------------------------------------ rejected

TEST(Http2Config, MaxConcurrentStreamsOutsideOneTo65535IsRefusedAtItsValue) {
  for (const char* v : {"0", "65536", "-1", "many", "1.5"}) {
    expect_value_refused("max_concurrent_streams", v,
                         std::string("expected a whole number from 1 to 65535, got '") + v + "'");
  }
}

TEST(Http2Config, InitialWindowSizeBelow1KiBOrAbove2To31Minus1IsRefusedAtItsValue) {
  for (const char* v : {"0", "1023", "2147483648", "2GiB"}) {
    expect_value_refused("initial_window_size", v,
                         std::string("must be from 1KiB to 2147483647 bytes (2^31-1, RFC 9113 "
                                     "§6.9.1), got '") +
                             v +
                             "'; a smaller window would let a client send a request body only "
                             "a little per round trip");
  }
  expect_value_refused("initial_window_size", "64kb",
                       "expected a size such as 512, 16KiB or 1MiB, got '64kb'");
}

TEST(Http2Config, ConnectionWindowSizeBelow65535OrAbove2To31Minus1IsRefusedAtItsValue) {
  for (const char* v : {"65534", "64KB", "2147483648"}) {
    expect_value_refused("connection_window_size", v,
                         std::string("must be from 65535 bytes (the window every connection "
                                     "starts with, RFC 9113 §6.9.2) to 2147483647 bytes "
                                     "(2^31-1), got '") +
                             v + "'");
  }
}

TEST(Http2Config, MaxFrameSizeOutsideTheRfc9113RangeIsRefusedAtItsValue) {
  for (const char* v : {"0", "16383", "16777216", "16MiB"}) {
    expect_value_refused(
        "max_frame_size", v,
        std::string("must be from 16KiB to 16777215 bytes (16MiB-1, RFC 9113 §6.5.2), got '") + v +
            "'");
  }
}

TEST(Http2Config, MaxHeaderListSizeOtherThanZeroOr1KiBTo16MiBIsRefusedAtItsValue) {
  for (const char* v : {"1", "1023", "16777217", "17MiB"}) {
    expect_value_refused("max_header_list_size", v,
                         std::string("must be 0 (the listener's max_header_size) or from 1KiB "
                                     "to 16MiB, got '") +
                             v + "'");
  }
}

TEST(Http2Config, MaxContinuationsOutsideOneTo1000IsRefusedAtItsValue) {
  for (const char* v : {"0", "1001"}) {
    expect_value_refused("max_continuations", v,
                         std::string("expected a whole number from 1 to 1000, got '") + v + "'");
  }
}

TEST(Http2Config, ABudgetOfZeroIsRefusedAtTheZero) {
  for (const char* budget : {"reset_budget", "control_frame_budget"}) {
    for (const char* key : {"burst", "per_second"}) {
      const std::string item = std::string(key) + ": 0";
      const std::string yaml = http2_block(std::string(budget) + ": {" + item + "}\n");
      // From the value to the end: found first where the value starts.
      const std::string at_value = yaml.substr(yaml.find(item) + std::string(key).size() + 2);
      expect_error(yaml, at_value,
                   std::string("listener 'web': http2.") + budget + "." + key +
                       ": expected a whole number from 1 to 4294967295, got '0'");
    }
  }
}

TEST(Http2Config, ABudgetThatIsNotAMapIsRefused) {
  const std::string yaml = http2_block("reset_budget: 100\n");
  expect_error(yaml, "100\n",
               "listener 'web': http2.reset_budget: expected a map of settings, got '100'");
}

TEST(Http2Config, AZeroOrUnitlessTimeoutIsRefusedAtItsValue) {
  for (const char* key : {"stream_idle_timeout", "zero_window_timeout"}) {
    expect_value_refused(key, "0s", "must be longer than 0");
    expect_value_refused(key, "30", "expected a duration such as 250ms, 3s or 5m, got '30'");
  }
}

TEST(Http2Config, EnabledMustBeABool) {
  expect_value_refused("enabled", "maybe", "expected true or false, got 'maybe'");
}

TEST(Http2Config, TheBlockMustBeAMap) {
  const std::string yaml =
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    http2: true\n"
      "routes: [{respond: {status: 200}}]\n";
  expect_error(yaml, "true\n", "listener 'web': http2: expected a map of settings, got 'true'");
}

TEST(Http2Config, AMisspeltKeyGetsASuggestion) {
  expect_error(http2_block("max_concurent_streams: 10\n"), "max_concurent_streams",
               "listener 'web': http2: unknown key 'max_concurent_streams' (did you mean "
               "'max_concurrent_streams'?)");
  expect_error(http2_block("reset_budget: {burts: 5}\n"), "burts",
               "listener 'web': http2.reset_budget: unknown key 'burts' (did you mean "
               "'burst'?)");
  expect_error(
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    htp2: {enabled: false}\n"
      "routes: [{respond: {status: 200}}]\n",
      "htp2", "listener 'web': unknown key 'htp2' (did you mean 'http2'?)");
}

TEST(Http2Config, TheBlockOnATcpListenerIsAnError) {
  const std::string yaml =
      "listeners:\n  - name: db\n    listen: 127.0.0.1:0\n    protocol: tcp\n"
      "    backend: pg\n    http2:\n      enabled: false\n"
      "backends: {pg: {servers: ['127.0.0.1:5432']}}\n";
  expect_error(yaml, "enabled: false",
               "listener 'db': http2: http2 applies to http listeners (a tcp listener relays "
               "bytes, whatever protocol they carry)");
}

TEST(Http2Config, H2OfferedByAlpnWhileHttp2IsDisabledIsAnErrorAtTheH2) {
  test::TempDir dir;
  dir.write("site.pem", "chain\n");
  dir.write("site.key", "key\n");
  const std::string yaml =
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
      "    http2: {enabled: false}\n"
      "    tls:\n      certificates: [{cert: site.pem, key: site.key}]\n"
      "      alpn: [http/1.1, h2]\n"
      "routes: [{respond: {status: 200}}]\n";
  expect_error(yaml, "h2]",
               "listener 'web': tls.alpn: h2 is offered but http2.enabled is false (remove h2, "
               "or enable http2)",
               dir.path().string());

  // Without h2 in the list the same listener loads: HTTP/1.1 only.
  std::string without = yaml;
  without.replace(without.find("http/1.1, h2"), 12, "http/1.1");
  const auto r = load_string(without, "f.yaml", dir.path().string());
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_FALSE(r.config->listeners[0].http2.enabled);
}

}  // namespace
}  // namespace sluice::config
