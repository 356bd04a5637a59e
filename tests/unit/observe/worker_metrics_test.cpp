// The per-worker store and its scrape, fed hand-made records (what the
// sessions hand to finish_request()).
#include "observe/worker_metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "observe/metrics_render.h"

namespace sluice::observe {
namespace {

// Listener "web"; routes "api" (to backend "app", one server) and "static"
// (a respond route); request keys for each, and for "no route".
std::shared_ptr<MetricsLayout> layout() {
  auto l = std::make_shared<MetricsLayout>();
  l->listeners = {"web"};
  l->routes = {"api", "static"};
  l->backends = {"app"};
  l->servers = {{"app", "127.0.0.1:8080"}};
  l->requests = {{0, kNoSlot, kNoSlot}, {0, 0, 0}, {0, 0, kNoSlot}, {0, 1, kNoSlot}};
  l->request_live.assign(4, true);
  for (const auto& [kind, n] : {std::pair{SeriesKind::listener, 1},
                                {SeriesKind::route, 2},
                                {SeriesKind::backend, 1},
                                {SeriesKind::server, 1},
                                {SeriesKind::request, 4}}) {
    for (int i = 0; i < n; ++i)
      l->assign(kind, static_cast<std::uint32_t>(i));
  }
  l->max_series = 100;
  l->in_use = 9;
  l->index_requests();
  return l;
}

RequestRecord record(int status, std::string_view method = "GET") {
  RequestRecord r;
  r.listener_slot = 0;
  r.method = method;
  r.status = status;
  return r;
}

RequestRecord to_api(int status, std::string_view method = "GET") {
  RequestRecord r = record(status, method);
  r.route_slot = 0;
  r.backend_slot = 0;
  r.server_slot = 0;
  return r;
}

std::string scrape(const MetricsLayout& l, std::initializer_list<const WorkerMetrics*> workers) {
  MetricsWriter out;
  std::vector<const WorkerMetrics*> w(workers);
  render_request_metrics(l, w, out);
  return out.take();
}

// The value of the sample whose name and labels are `series`, or -1.
long long value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(series + " ")) return std::stoll(line.substr(series.size() + 1));
  }
  return -1;
}

struct Started {
  std::shared_ptr<MetricsLayout> l = layout();
  WorkerMetrics one, two;
  Started() {
    for (WorkerMetrics* w : {&one, &two}) {
      w->reserve(*l);
      w->adopt(l);
    }
  }
};

TEST(WorkerMetrics, CountsRequestsByListenerRouteBackendMethodAndStatusClass) {
  Started s;
  s.one.record(to_api(200));
  s.one.record(to_api(204));
  s.one.record(to_api(502, "POST"));
  RequestRecord denied = to_api(401);  // answered before any backend
  denied.backend_slot = kNoSlot;
  denied.server_slot = kNoSlot;
  s.one.record(denied);
  s.one.record(record(404, "BREW"));
  const std::string text = scrape(*s.l, {&s.one});
  EXPECT_EQ(
      value(
          text,
          R"(sluice_requests_total{listener="web",route="api",backend="app",method="GET",code="2xx"})"),
      2);
  EXPECT_EQ(
      value(
          text,
          R"(sluice_requests_total{listener="web",route="api",backend="app",method="POST",code="5xx"})"),
      1);
  EXPECT_EQ(
      value(
          text,
          R"(sluice_requests_total{listener="web",route="api",backend="",method="GET",code="4xx"})"),
      1);
  EXPECT_EQ(
      value(
          text,
          R"(sluice_requests_total{listener="web",route="",backend="",method="other",code="4xx"})"),
      1);
  EXPECT_EQ(
      value(text,
            R"(sluice_server_requests_total{backend="app",server="127.0.0.1:8080",code="2xx"})"),
      2);
  EXPECT_EQ(
      value(text,
            R"(sluice_server_requests_total{backend="app",server="127.0.0.1:8080",code="5xx"})"),
      1);
  EXPECT_EQ(value(text, "sluice_metrics_unattributed_requests_total"), 0);
}

TEST(WorkerMetrics, ScrapeSumsEveryWorker) {
  Started s;
  RequestRecord r = to_api(200);
  r.bytes_in = 100;
  r.bytes_out = 1000;
  r.reused_connection = true;
  s.one.record(r);
  s.two.record(r);
  s.two.record(r);
  const std::string text = scrape(*s.l, {&s.one, &s.two});
  EXPECT_EQ(
      value(
          text,
          R"(sluice_requests_total{listener="web",route="api",backend="app",method="GET",code="2xx"})"),
      3);
  EXPECT_EQ(value(text, R"(sluice_received_bytes_total{listener="web",route="api"})"), 300);
  EXPECT_EQ(value(text, R"(sluice_sent_bytes_total{listener="web",route="api"})"), 3000);
  EXPECT_EQ(value(text, R"(sluice_server_pool_reuse_total{backend="app",server="127.0.0.1:8080"})"),
            3);
}

TEST(WorkerMetrics, DurationHistogramCountsEveryRequestInItsBucket) {
  Started s;
  for (const std::int64_t us : {100, 500, 501, 40'000, 31'000'000}) {
    RequestRecord r = to_api(200);
    r.total_us = us;
    r.first_byte_us = us;
    s.one.record(r);
  }
  const std::string text = scrape(*s.l, {&s.one});
  const std::string d = "sluice_request_duration_seconds";
  EXPECT_EQ(value(text, d + R"(_bucket{route="api",le="0.0005"})"), 2);
  EXPECT_EQ(value(text, d + R"(_bucket{route="api",le="0.001"})"), 3);
  EXPECT_EQ(value(text, d + R"(_bucket{route="api",le="0.05"})"), 4);
  EXPECT_EQ(value(text, d + R"(_bucket{route="api",le="30"})"), 4);
  EXPECT_EQ(value(text, d + R"(_bucket{route="api",le="+Inf"})"), 5);
  EXPECT_EQ(value(text, d + R"(_count{route="api"})"), 5);
  EXPECT_EQ(
      value(text, R"(sluice_first_byte_seconds_count{backend="app",server="127.0.0.1:8080"})"), 5);
  // Never connected (pooled): no connect time observed.
  EXPECT_EQ(value(text, R"(sluice_connect_seconds_count{backend="app",server="127.0.0.1:8080"})"),
            0);
  // A route no request reached has no series.
  EXPECT_EQ(text.find(R"(route="static",le=)"), std::string::npos);
}

TEST(WorkerMetrics, RetriesAreCountedByBackendAndPhase) {
  Started s;
  RequestRecord r = to_api(200);
  r.retries = 2;
  r.failures[static_cast<int>(FailurePhase::connect)] = 1;
  r.failures[static_cast<int>(FailurePhase::await)] = 1;
  s.one.record(r);
  const std::string text = scrape(*s.l, {&s.one});
  EXPECT_EQ(value(text, R"(sluice_retries_total{backend="app",phase="connect"})"), 1);
  EXPECT_EQ(value(text, R"(sluice_retries_total{backend="app",phase="send"})"), 0);
  EXPECT_EQ(value(text, R"(sluice_retries_total{backend="app",phase="await"})"), 1);
}

TEST(WorkerMetrics, ARequestWithoutAKeyIsCountedAsUnattributed) {
  Started s;
  RequestRecord r = to_api(200);
  r.route_slot = 7;  // a route a reload removed
  s.one.record(r);
  const std::string text = scrape(*s.l, {&s.one});
  EXPECT_EQ(value(text, "sluice_metrics_unattributed_requests_total"), 1);
}

TEST(WorkerMetrics, ARouteWithoutSeriesIsNotCountedAsNoRoute) {
  Started s;
  RequestRecord r = record(200);
  r.route = "past-the-cap";  // matched, but got no series
  s.one.record(r);
  const std::string text = scrape(*s.l, {&s.one});
  EXPECT_EQ(
      value(text,
            R"(sluice_requests_total{listener="web",route="",backend="",method="GET",code="2xx"})"),
      -1);
  EXPECT_EQ(value(text, "sluice_metrics_unattributed_requests_total"), 1);
}

TEST(WorkerMetrics, SeriesOfANameNoLongerConfiguredDisappear) {
  Started s;
  s.one.record(to_api(200));
  auto next = std::make_shared<MetricsLayout>(*s.l);
  next->routes[0].clear();
  next->servers[0] = {};
  next->backends[0].clear();
  next->request_live[1] = next->request_live[2] = false;
  next->index_requests();
  s.one.reserve(*next);
  s.one.adopt(next);
  const std::string text = scrape(*next, {&s.one});
  EXPECT_EQ(text.find("route=\"api\""), std::string::npos) << text;
  EXPECT_EQ(text.find("backend=\"app\""), std::string::npos) << text;
}

// The registry gave "api"'s route, request key, backend and server
// indexes to new names (epoch 1).
std::shared_ptr<MetricsLayout> renamed(const MetricsLayout& before) {
  auto next = std::make_shared<MetricsLayout>(before);
  const std::uint32_t epoch1 = 1u << kSlotIndexBits;
  next->routes[0] = "renamed";
  next->servers[0] = {"other", "127.0.0.1:9090"};
  next->backends[0] = "other";
  next->requests[1] = {0, epoch1, epoch1};
  next->request_live[2] = false;
  for (const SeriesKind k : {SeriesKind::route, SeriesKind::backend, SeriesKind::server})
    next->assign(k, epoch1);
  next->reused = {{SeriesKind::route, 0},
                  {SeriesKind::request, 1},
                  {SeriesKind::backend, 0},
                  {SeriesKind::server, 0}};
  next->index_requests();
  return next;
}

TEST(WorkerMetrics, ARequestBegunBeforeAReloadDoesNotCountUnderTheNameThatTookItsIndex) {
  Started s;
  auto next = renamed(*s.l);
  s.one.reserve(*next);
  s.one.adopt(next);
  s.one.record(to_api(200));  // still carries "api"'s ids
  const std::string text = scrape(*next, {&s.one});
  EXPECT_EQ(text.find("route=\"renamed\""), std::string::npos) << text;
  EXPECT_EQ(text.find("code=\"2xx\""), std::string::npos) << text;
  EXPECT_EQ(value(text, "sluice_metrics_unattributed_requests_total"), 1);
}

TEST(WorkerMetrics, ASlotGivenToANewNameStartsFromZero) {
  Started s;
  s.one.record(to_api(200));
  s.two.record(to_api(200));
  auto next = renamed(*s.l);
  for (WorkerMetrics* w : {&s.one, &s.two}) {
    w->reserve(*next);
    w->adopt(next);
  }
  const std::string text = scrape(*next, {&s.one, &s.two});
  EXPECT_EQ(text.find("route=\"renamed\""), std::string::npos) << text;
  EXPECT_EQ(
      value(text,
            R"(sluice_server_requests_total{backend="other",server="127.0.0.1:9090",code="2xx"})"),
      -1);
  EXPECT_EQ(
      value(text, R"(sluice_server_pool_reuse_total{backend="other",server="127.0.0.1:9090"})"), 0);
}

TEST(WorkerMetrics, MethodsAndStatusClassesMapToTheirLabels) {
  EXPECT_EQ(kMethodNames[method_index("DELETE")], "DELETE");
  EXPECT_EQ(kMethodNames[method_index("OPTIONS")], "OPTIONS");
  EXPECT_EQ(kMethodNames[method_index("CONNECT")], "CONNECT");
  EXPECT_EQ(kMethodNames[method_index("get")], "other");
  EXPECT_EQ(kCodeNames[code_index(0)], "none");
  EXPECT_EQ(kCodeNames[code_index(101)], "1xx");
  EXPECT_EQ(kCodeNames[code_index(599)], "5xx");
  EXPECT_EQ(kCodeNames[code_index(600)], "none");
}

}  // namespace
}  // namespace sluice::observe
