// Top-level `request_id` and `tracing` (issue 19): the defaults, every key
// read, and every refused value with its file:line:col.
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
using testing::errors;
using testing::position_of;

std::string with(std::string_view blocks) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "routes: [{name: r, respond: {status: 200}}]\n" +
         std::string(blocks);
}

// Exactly one error, at `at`, saying `message`.
void expect_error(std::string_view blocks, std::string_view at, const std::string& message) {
  const std::string yaml = with(blocks);
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok());
  const auto e = errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

TEST(RequestIdConfig, IsOnByDefaultReplacingEveryClientsIdAndNotEchoed) {
  const auto r = load_string(with(""), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const RequestId& id = r.config->request_id;
  EXPECT_TRUE(id.enabled);
  EXPECT_EQ(id.header, "X-Request-Id");
  EXPECT_TRUE(id.trust_from.empty());
  EXPECT_FALSE(id.response);
  EXPECT_FALSE(r.config->tracing) << "tracing is off until configured";
}

TEST(RequestIdConfig, EveryKeyIsRead) {
  const auto r = load_string(with("request_id:\n"
                                  "  header: X-Correlation-Id\n"
                                  "  trust_from: [10.0.0.0/8, '::1/128', 192.0.2.7]\n"
                                  "  response: true\n"),
                             "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const RequestId& id = r.config->request_id;
  EXPECT_TRUE(id.enabled);
  EXPECT_EQ(id.header, "X-Correlation-Id");
  EXPECT_EQ(id.trust_from, (std::vector<std::string>{"10.0.0.0/8", "::1/128", "192.0.2.7"}));
  EXPECT_TRUE(id.response);
}

TEST(RequestIdConfig, FalseTurnsItOffAndTrueKeepsTheDefaults) {
  const auto off = load_string(with("request_id: false\n"), "f.yaml");
  ASSERT_TRUE(off.ok()) << dump(off);
  EXPECT_FALSE(off.config->request_id.enabled);
  const auto on = load_string(with("request_id: true\n"), "f.yaml");
  ASSERT_TRUE(on.ok()) << dump(on);
  EXPECT_TRUE(on.config->request_id.enabled);
  EXPECT_EQ(on.config->request_id.header, "X-Request-Id");
}

TEST(RequestIdConfig, RefusedValuesNameTheirPlace) {
  expect_error("request_id: {trust_from: [10.0.0.0/33]}\n", "10.0.0.0/33",
               "request_id.trust_from: expected a network such as 10.0.0.0/8 or ::1/128, got "
               "'10.0.0.0/33'");
  expect_error("request_id: {header: 'X Id'}\n", "'X Id'",
               "request_id.header: 'X Id' is not a valid header field name");
  expect_error("request_id: {header: traceparent}\n", "traceparent",
               "request_id.header: 'traceparent' is a field sluice states itself");
  expect_error("request_id: {header: Content-Length}\n", "Content-Length",
               "request_id.header: 'Content-Length' is a field sluice states itself");
  expect_error("request_id: {response: maybe}\n", "maybe",
               "request_id.response: expected true or false, got 'maybe'");
  expect_error("request_id: sometimes\n", "sometimes",
               "request_id: expected true or false, got 'sometimes'");
  const auto r = load_string(with("request_id: {headr: X-Id}\n"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("did you mean 'header'"), std::string::npos) << dump(r);
}

TEST(TracingConfig, AnEmptyBlockPropagatesEveryTraceAndExportsNothing) {
  const auto r = load_string(with("tracing: {}\n"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  ASSERT_TRUE(r.config->tracing);
  EXPECT_EQ(r.config->tracing->sample, 1.0);
  EXPECT_EQ(r.config->tracing->service_name, "sluice");
  EXPECT_FALSE(r.config->tracing->otlp);
}

TEST(TracingConfig, EveryKeyIsReadWithOtlpDefaults) {
  const auto r = load_string(with("tracing:\n"
                                  "  sample: 0.05\n"
                                  "  service_name: edge-proxy\n"
                                  "  otlp:\n"
                                  "    endpoint: http://collector.internal:4318/v1/traces\n"),
                             "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Tracing& t = *r.config->tracing;
  EXPECT_EQ(t.sample, 0.05);
  EXPECT_EQ(t.service_name, "edge-proxy");
  ASSERT_TRUE(t.otlp);
  EXPECT_EQ(t.otlp->host, "collector.internal");
  EXPECT_EQ(t.otlp->port, 4318);
  EXPECT_EQ(t.otlp->path, "/v1/traces");
  EXPECT_EQ(t.otlp->batch, 512u);
  EXPECT_EQ(t.otlp->queue, 2048u);
  EXPECT_EQ(t.otlp->flush_interval, std::chrono::seconds(5));
  EXPECT_EQ(t.otlp->timeout, std::chrono::seconds(10));

  const auto s = load_string(with("tracing:\n"
                                  "  otlp:\n"
                                  "    endpoint: 'http://[::1]:9999/otel/traces'\n"
                                  "    batch: 100\n"
                                  "    queue: 10000\n"
                                  "    flush_interval: 250ms\n"
                                  "    timeout: 2s\n"),
                             "f.yaml");
  ASSERT_TRUE(s.ok()) << dump(s);
  const Otlp& o = *s.config->tracing->otlp;
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 9999);
  EXPECT_EQ(o.path, "/otel/traces");
  EXPECT_EQ(o.batch, 100u);
  EXPECT_EQ(o.queue, 10000u);
  EXPECT_EQ(o.flush_interval, std::chrono::milliseconds(250));
  EXPECT_EQ(o.timeout, std::chrono::seconds(2));
}

TEST(TracingConfig, AnEndpointWithoutPortOrPathTakesTheUrlDefaults) {
  const auto r = load_string(with("tracing: {otlp: {endpoint: 'http://127.0.0.1'}}\n"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->tracing->otlp->port, 80);
  EXPECT_EQ(r.config->tracing->otlp->path, "/v1/traces");
}

TEST(TracingConfig, TheDefaultBatchShrinksToASmallerQueue) {
  const auto r = load_string(
      with("tracing: {otlp: {endpoint: 'http://127.0.0.1:4318/v1/traces', queue: 100}}\n"),
      "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_EQ(r.config->tracing->otlp->batch, 100u);
}

TEST(TracingConfig, RefusedValuesNameTheirPlace) {
  expect_error("tracing: {sample: 1.5}\n", "1.5",
               "tracing.sample: expected a probability from 0 to 1 such as 0.05, got '1.5'");
  expect_error("tracing: {sample: 5%}\n", "5%",
               "tracing.sample: expected a probability from 0 to 1 such as 0.05, got '5%'");
  expect_error("tracing: {sample: -0.1}\n", "-0.1",
               "tracing.sample: expected a probability from 0 to 1 such as 0.05, got '-0.1'");
  expect_error("tracing: {service_name: 'my proxy'}\n", "'my proxy'",
               "tracing.service_name: expected visible characters, got 'my proxy'");
  expect_error("tracing: {otlp: {batch: 10}}\n", "{batch",
               "tracing.otlp: missing required key 'endpoint' (the collector's URL, e.g. "
               "http://127.0.0.1:4318/v1/traces)");
  expect_error("tracing: {otlp: {endpoint: 'https://c:4318/v1/traces'}}\n", "'https",
               "tracing.otlp.endpoint: expected an http:// URL such as "
               "http://127.0.0.1:4318/v1/traces, got 'https://c:4318/v1/traces' (https is not "
               "supported: send to a local collector or agent over http)");
  expect_error("tracing: {otlp: {endpoint: 'http://c:99999/v1/traces'}}\n", "'http",
               "tracing.otlp.endpoint: expected an http:// URL such as "
               "http://127.0.0.1:4318/v1/traces, got 'http://c:99999/v1/traces' (port 99999 is "
               "out of range 1..65535)");
  expect_error("tracing: {otlp: {endpoint: 'http:///v1/traces'}}\n", "'http",
               "tracing.otlp.endpoint: expected an http:// URL such as "
               "http://127.0.0.1:4318/v1/traces, got 'http:///v1/traces'");
  expect_error("tracing: {otlp: {endpoint: 'http://c:4318/v1/traces?x=1'}}\n", "'http",
               "tracing.otlp.endpoint: the path '/v1/traces?x=1' may not hold a query, a "
               "fragment or spaces");
  expect_error("tracing: {otlp: {endpoint: 'http://c:1/', batch: 0, queue: 8}}\n", "0, queue",
               "tracing.otlp.batch: expected a whole number from 1 to 100000, got '0'");
  expect_error("tracing: {otlp: {endpoint: 'http://c:1/', batch: 600, queue: 500}}\n", "600",
               "tracing.otlp.batch: must not exceed queue (500)");
  expect_error("tracing: {otlp: {endpoint: 'http://c:1/', flush_interval: 0s}}\n", "0s",
               "tracing.otlp.flush_interval: must be longer than 0");
  expect_error("tracing: {exporter: x}\n", "exporter",
               "tracing: unknown key 'exporter' (expected one of: sample, service_name, otlp)");
}

}  // namespace
}  // namespace sluice::config
