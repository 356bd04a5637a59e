// The span exporter (issue 19): sampled spans reach a collector in
// batches; a collector that is down or silent costs spans (counted), never
// the worker's time.
#include "observe/tracer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "observe/request_record.h"
#include "observe/trace_context.h"
#include "support/free_port.h"
#include "support/test_backend.h"

namespace sluice::observe {
namespace {

using namespace std::chrono_literals;

RequestRecord sampled_request() {
  RequestRecord r;
  r.start_unix_us = 1'700'000'000'000'000;
  r.total_us = 10;
  r.method = "GET";
  r.target = "/";
  r.status = 200;
  random_hex_id(r.trace.trace_id.data(), r.trace.trace_id.size());
  random_hex_id(r.trace.span_id.data(), r.trace.span_id.size());
  r.trace.sampled = true;
  r.trace.valid = true;
  return r;
}

TracerSettings to(std::uint16_t port) {
  TracerSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  s.batch = 10;
  s.queue = 100;
  s.flush_interval = 100ms;
  s.timeout = 2s;
  return s;
}

test::TestBackend::Script answering(int status) {
  return [status](test::BackendConnection& c) {
    test::ReceivedRequest r;
    if (c.read_request(r)) c.send(test::make_response(status, "{}"));
  };
}

std::size_t spans_in(const std::vector<test::ReceivedRequest>& posts) {
  std::size_t n = 0;
  for (const auto& p : posts) {
    for (std::size_t at = p.body.find("\"spanId\""); at != std::string::npos;
         at = p.body.find("\"spanId\"", at + 1))
      ++n;
  }
  return n;
}

TEST(Tracer, SampledSpansArriveInBatchesAsOtlpJsonPosts) {
  test::TestBackend collector(answering(200));
  Tracer tracer(to(collector.port()), 2);
  tracer.start();
  const RequestRecord r = sampled_request();
  for (int i = 0; i < 25; ++i)
    tracer.finish(static_cast<std::size_t>(i % 2), r);
  RequestRecord unsampled = sampled_request();
  unsampled.trace.sampled = false;
  tracer.finish(0, unsampled);
  // Two full batches go at once, the last 5 after flush_interval.
  ASSERT_TRUE(collector.wait_for_requests(3));
  tracer.stop();
  const auto posts = collector.requests();
  EXPECT_EQ(spans_in(posts), 25u) << "every sampled span, and no other";
  for (const auto& p : posts) {
    EXPECT_EQ(p.method, "POST");
    EXPECT_EQ(p.target, "/v1/traces");
    EXPECT_EQ(p.header("content-type"), "application/json");
    EXPECT_LE(spans_in({p}), 10u) << "batch: 10";
  }
  EXPECT_EQ(tracer.exported(), 25u);
  EXPECT_EQ(tracer.dropped(), 0u);
}

TEST(Tracer, ACollectorThatIsDownCostsSpansNotTime) {
  test::RefusingPort down;
  Tracer tracer(to(down.port()), 1);
  tracer.start();
  const RequestRecord r = sampled_request();
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i)
    tracer.finish(0, r);
  const auto spent = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(spent, 50ms) << "queueing never waits for the collector";
  tracer.stop();
  EXPECT_EQ(tracer.exported(), 0u);
  EXPECT_EQ(tracer.dropped(), 1000u) << "900 found the queue (100) full; the rest failed to go";
}

TEST(Tracer, ACollectorThatNeverAnswersFillsTheQueueAndDropsAreCounted) {
  test::TestBackend silent([](test::BackendConnection& c) {
    test::ReceivedRequest r;
    if (c.read_request(r)) c.wait_closed(20'000);
  });
  TracerSettings s = to(silent.port());
  s.timeout = 3s;
  s.flush_interval = 60s;  // only a full batch leaves
  Tracer tracer(s, 1);
  tracer.start();
  const RequestRecord r = sampled_request();
  for (int i = 0; i < 10; ++i)
    tracer.finish(0, r);
  ASSERT_TRUE(silent.wait_for_requests(1)) << "a full batch leaves at once";
  // The exporter waits for an answer; meanwhile the queue (100) fills.
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 150; ++i)
    tracer.finish(0, r);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 50ms);
  EXPECT_EQ(tracer.dropped(), 50u);
  tracer.stop();
  EXPECT_EQ(tracer.exported(), 0u);
  EXPECT_EQ(tracer.dropped(), 160u) << "the unanswered batch is lost too, and what waited";
}

TEST(Tracer, ACollectorRefusingTheBatchCountsItAsDropped) {
  test::TestBackend collector(answering(400));
  Tracer tracer(to(collector.port()), 1);
  tracer.start();
  const RequestRecord r = sampled_request();
  for (int i = 0; i < 10; ++i)
    tracer.finish(0, r);
  ASSERT_TRUE(collector.wait_for_requests(1));
  tracer.stop();
  EXPECT_EQ(tracer.exported(), 0u);
  EXPECT_EQ(tracer.dropped(), 10u);
}

}  // namespace
}  // namespace sluice::observe
