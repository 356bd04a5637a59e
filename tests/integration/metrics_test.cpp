// /metrics on the admin listener (issue 19): a scrape Prometheus accepts
// (promtool) even under load, counters equal to what the clients saw,
// series that go with the routes and servers a reload removes, and the cap
// on how many names get series.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"
#include "support/wrk_load.h"

namespace sluice::test {
namespace {

// Samples by series ("name{labels}"), as scraped.
using Samples = std::map<std::string, double>;

Samples parse(const std::string& text) {
  Samples out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// The value of `series`, or -1 when the scrape has no such series.
double value(const Samples& s, const std::string& series) {
  const auto it = s.find(series);
  return it == s.end() ? -1 : it->second;
}

bool mentions(const Samples& s, const std::string& label) {
  for (const auto& [series, v] : s)
    if (series.find(label) != std::string::npos) return true;
  return false;
}

std::string scrape(const SluiceInstance& sluice) {
  auto r = sluice.admin_get("/metrics");
  if (!r || r->status != 200) return "";
  return r->body;
}

// A scrape once `requests` requests have been counted (all of
// sluice_requests_total and the unattributed ones): a request is counted
// when its connection is done with it, a little after the client has its
// answer. Empty when they never are (10 s).
Samples scrape_counted(SluiceInstance& sluice, double requests) {
  Samples s;
  for (int i = 0; i < 1000; ++i) {
    s = parse(scrape(sluice));
    sluice.process().output();  // reads its log (a line per scrape): the pipe never fills
    double counted = s["sluice_metrics_unattributed_requests_total"];
    for (const auto& [series, v] : s)
      if (series.starts_with("sluice_requests_total{")) counted += v;
    if (counted == requests) return s;
    if (counted > requests) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "never " << requests << " requests counted";
  return s;
}

std::string rq(const std::string& route, const std::string& backend, const std::string& method,
               const std::string& code) {
  return "sluice_requests_total{listener=\"web\",route=\"" + route + "\",backend=\"" + backend +
         "\",method=\"" + method + "\",code=\"" + code + "\"}";
}

void rewrite(const SluiceInstance& s, const std::string& yaml) {
  std::ofstream(s.config_path(), std::ios::trunc) << yaml;
}

bool reload(SluiceInstance& s, std::size_t nth) {
  ::kill(s.process().pid(), SIGHUP);
  return s.process().wait_for_count("reload: applied", nth, std::chrono::seconds(20));
}

// `promtool check metrics` on `text`: its exit code and what it said.
CommandResult promtool(const SluiceInstance& s, const std::string& text) {
  const std::string path = s.dir().write("scrape.txt", text);
  return run_command({"sh", "-c", "promtool check metrics < '" + path + "'"});
}

std::string config(const std::string& app, const std::string& dead, const std::string& extra = "") {
  return R"(workers: 2
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: api
    match: {path: /api/}
    backend: app
  - name: dead
    match: {path: /dead/}
    backend: gone
  - name: hello
    match: {path: /hello}
    respond: {status: 200, body: "hi\n"}
)" + extra +
         R"(backends:
  app:
    servers: [)" +
         app + R"(]
  gone:
    servers: [)" +
         dead + R"(]
    retries: {attempts: 1}
)";
}

// One request on a connection of its own, which it closes; its status (0:
// no answer). Adds the bytes sent and read to `sent` and `read`. Returns
// once sluice has closed the connection: the request's record has been
// handed over (counted) by then.
int request(const SluiceInstance& sluice, const std::string& method, const std::string& path,
            std::uint64_t* sent = nullptr, std::uint64_t* read = nullptr) {
  RawConnection c(sluice.port("web"));
  const std::string bytes = method + " " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
                            (method == "POST" ? "Content-Length: 4\r\n\r\nbody" : "\r\n");
  if (!c.send(bytes)) return 0;
  auto r = c.read_response(method == "HEAD");
  if (!r || !c.wait_closed()) return 0;
  if (sent) *sent += bytes.size();
  if (read) *read += r->raw_head.size() + r->body.size();
  return r->status;
}

TEST(Metrics, AnswersInThePrometheusTextFormatAndHeadHasNoBody) {
  TestBackend app(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(config(app.address(), dead.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = sluice.admin_get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  // Every family is announced, even before any request.
  for (const char* family : {"sluice_requests_total",
                             "sluice_received_bytes_total",
                             "sluice_sent_bytes_total",
                             "sluice_request_duration_seconds",
                             "sluice_first_byte_seconds",
                             "sluice_connect_seconds",
                             "sluice_queue_wait_seconds",
                             "sluice_server_requests_total",
                             "sluice_retries_total",
                             "sluice_client_connections",
                             "sluice_server_connections",
                             "sluice_server_pool_reuse_total",
                             "sluice_server_up",
                             "sluice_server_admin_state",
                             "sluice_server_weight",
                             "sluice_server_ejections_total",
                             "sluice_server_queue_length",
                             "sluice_config_generation",
                             "sluice_config_reloads_total",
                             "sluice_config_last_reload_timestamp_seconds",
                             "sluice_access_log_dropped_total",
                             "sluice_trace_spans_dropped_total"}) {
    EXPECT_NE(r->body.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
    EXPECT_NE(r->body.find(std::string("# HELP ") + family + " "), std::string::npos) << family;
  }
  const Samples s = parse(r->body);
  EXPECT_EQ(value(s, "sluice_config_generation"), 1);
  EXPECT_EQ(value(s, "sluice_server_up{backend=\"app\",server=\"" + app.address() + "\"}"), 1);
  EXPECT_EQ(value(s, "sluice_server_admin_state{backend=\"app\",server=\"" + app.address() +
                         "\",state=\"enabled\"}"),
            1);
  EXPECT_EQ(value(s, "sluice_server_weight{backend=\"app\",server=\"" + app.address() + "\"}"), 1);

  RawConnection admin(sluice.port("admin"));
  const std::string host = "Host: 127.0.0.1:" + std::to_string(sluice.port("admin")) + "\r\n";
  ASSERT_TRUE(admin.send("HEAD /metrics HTTP/1.1\r\n" + host + "\r\n"));
  auto head = admin.read_response(true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  ASSERT_TRUE(admin.send("POST /metrics HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n"));
  auto post = admin.read_response();
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET, HEAD");
}

TEST(Metrics, PromtoolAcceptsAScrapeTakenUnderLoad) {
  TestBackend app(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(config(app.address(), dead.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // Every kind of series present: proxied, answered locally, no route, 502.
  EXPECT_EQ(request(sluice, "GET", "/hello"), 200);
  EXPECT_EQ(request(sluice, "GET", "/nothing"), 404);
  EXPECT_EQ(request(sluice, "GET", "/dead/x"), 502);
  WrkLoad load("http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/api/x", 8, 30);
  ASSERT_TRUE(app.wait_for_requests(500, 20'000)) << "the load never got going";
  const std::string text = scrape(sluice);  // while wrk runs
  const WrkSummary summary = load.finish();
  ASSERT_FALSE(text.empty());
  const CommandResult check = promtool(sluice, text);
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text.substr(0, 3000);
  const Samples s = parse(text);
  EXPECT_GT(value(s, rq("api", "app", "GET", "2xx")), 0);
  // Taken under load: the client connections were there to see.
  EXPECT_GT(value(s, "sluice_client_connections{listener=\"web\",state=\"active\"}") +
                value(s, "sluice_client_connections{listener=\"web\",state=\"idle\"}"),
            0);
  EXPECT_EQ(summary.socket_errors, 0) << summary.output;
}

TEST(Metrics, CountersEqualWhatTheClientsSaw) {
  TestBackend app(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(config(app.address(), dead.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::uint64_t hello_in = 0, hello_out = 0;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(request(sluice, "GET", "/api/" + std::to_string(i)), 200);
  EXPECT_EQ(request(sluice, "POST", "/api/post"), 200);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(request(sluice, "GET", "/nothing"), 404);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(request(sluice, "GET", "/hello", &hello_in, &hello_out), 200);
  EXPECT_EQ(request(sluice, "HEAD", "/hello", &hello_in, &hello_out), 200);
  // Refused, retried once (attempts: 1) on the same server, refused again.
  EXPECT_EQ(request(sluice, "GET", "/dead/1"), 502);

  const Samples s = scrape_counted(sluice, 15);
  EXPECT_EQ(value(s, rq("api", "app", "GET", "2xx")), 5);
  EXPECT_EQ(value(s, rq("api", "app", "POST", "2xx")), 1);
  EXPECT_EQ(value(s, rq("", "", "GET", "4xx")), 3);
  EXPECT_EQ(value(s, rq("hello", "", "GET", "2xx")), 4);
  EXPECT_EQ(value(s, rq("hello", "", "HEAD", "2xx")), 1);
  EXPECT_EQ(value(s, rq("dead", "gone", "GET", "5xx")), 1);
  const std::string app_server = "backend=\"app\",server=\"" + app.address() + "\"";
  const std::string gone_server = "backend=\"gone\",server=\"" + dead.address() + "\"";
  EXPECT_EQ(value(s, "sluice_server_requests_total{" + app_server + ",code=\"2xx\"}"), 6);
  EXPECT_EQ(value(s, "sluice_server_requests_total{" + gone_server + ",code=\"5xx\"}"), 1);
  EXPECT_EQ(value(s, "sluice_retries_total{backend=\"gone\",phase=\"connect\"}"), 1);
  EXPECT_EQ(value(s, "sluice_retries_total{backend=\"app\",phase=\"connect\"}"), 0);
  // Each of the six either opened a connection or reused a pooled one (a
  // pool per worker: two workers, so one or two opened).
  const double opened = value(s, "sluice_connect_seconds_count{" + app_server + "}");
  EXPECT_GE(opened, 1);
  EXPECT_LE(opened, 2);
  EXPECT_EQ(value(s, "sluice_server_pool_reuse_total{" + app_server + "}"), 6 - opened);
  EXPECT_EQ(value(s, "sluice_first_byte_seconds_count{" + app_server + "}"), 6);
  EXPECT_EQ(value(s, "sluice_received_bytes_total{listener=\"web\",route=\"hello\"}"),
            static_cast<double>(hello_in));
  EXPECT_EQ(value(s, "sluice_sent_bytes_total{listener=\"web\",route=\"hello\"}"),
            static_cast<double>(hello_out));
  EXPECT_EQ(value(s, "sluice_metrics_unattributed_requests_total"), 0);
}

TEST(Metrics, DurationHistogramCountsEveryRequestInCumulativeBuckets) {
  TestBackend app(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(config(app.address(), dead.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(request(sluice, "GET", "/api/" + std::to_string(i)), 200);
  scrape_counted(sluice, 7);
  const std::string text = scrape(sluice);
  const std::regex bucket(
      R"re(sluice_request_duration_seconds_bucket\{route="api",le="([^"]+)"\} (\d+))re");
  std::vector<std::pair<std::string, long>> buckets;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), bucket);
       it != std::sregex_iterator(); ++it) {
    buckets.emplace_back((*it)[1].str(), std::stol((*it)[2].str()));
  }
  ASSERT_EQ(buckets.size(), 16u) << text;
  for (std::size_t i = 1; i < buckets.size(); ++i) {
    EXPECT_LE(buckets[i - 1].second, buckets[i].second) << "le=" << buckets[i].first;
    EXPECT_LT(std::stod(buckets[i - 1].first),
              buckets[i].first == "+Inf" ? 1e300 : std::stod(buckets[i].first));
  }
  EXPECT_EQ(buckets.back().first, "+Inf");
  EXPECT_EQ(buckets.back().second, 7);
  const Samples s = parse(text);
  EXPECT_EQ(value(s, "sluice_request_duration_seconds_count{route=\"api\"}"), 7);
  EXPECT_GT(value(s, "sluice_request_duration_seconds_sum{route=\"api\"}"), 0);
}

TEST(Metrics, AReloadRemovesTheSeriesOfARemovedRouteAndServerAndKeepsTheOthersCounts) {
  TestBackend app(TestBackend::echo());
  TestBackend spare(TestBackend::echo());
  const RefusingPort dead;
  const std::string old_route = R"(  - name: old
    match: {path: /old}
    respond: {status: 201}
)";
  SluiceInstance sluice(config(app.address() + ", " + spare.address(), dead.address(), old_route));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(request(sluice, "GET", "/api/" + std::to_string(i)), 200);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(request(sluice, "GET", "/hello"), 200);
  EXPECT_EQ(request(sluice, "GET", "/old"), 201);
  const Samples before = scrape_counted(sluice, 8);
  EXPECT_EQ(value(before, rq("old", "", "GET", "2xx")), 1);
  EXPECT_TRUE(mentions(before, "server=\"" + spare.address() + "\""));
  const double api_before = value(before, rq("api", "app", "GET", "2xx"));
  EXPECT_EQ(api_before, 4);
  const double app_before = value(before, "sluice_server_requests_total{backend=\"app\",server=\"" +
                                              app.address() + "\",code=\"2xx\"}");

  rewrite(sluice, config(app.address(), dead.address()));
  ASSERT_TRUE(reload(sluice, 1)) << sluice.process().output();
  const Samples after = scrape_counted(sluice, 7);  // "old" went with its series
  EXPECT_FALSE(mentions(after, "route=\"old\"")) << "the removed route's series are gone";
  EXPECT_FALSE(mentions(after, "server=\"" + spare.address() + "\""))
      << "the removed server's series are gone";
  EXPECT_EQ(value(after, rq("hello", "", "GET", "2xx")), 3);
  EXPECT_EQ(value(after, rq("api", "app", "GET", "2xx")), api_before);
  EXPECT_EQ(value(after, "sluice_server_requests_total{backend=\"app\",server=\"" + app.address() +
                             "\",code=\"2xx\"}"),
            app_before);
  EXPECT_EQ(value(after, "sluice_config_generation"), 2);
  EXPECT_EQ(value(after, "sluice_config_reloads_total{result=\"applied\"}"), 1);
  EXPECT_EQ(value(after, "sluice_config_reloads_total{result=\"refused\"}"), 0);

  // Counting goes on from there; a route added back under the old name
  // starts from zero, not from the removed one's count.
  EXPECT_EQ(request(sluice, "GET", "/hello"), 200);
  rewrite(sluice, config(app.address(), dead.address(), old_route));
  ASSERT_TRUE(reload(sluice, 2)) << sluice.process().output();
  EXPECT_EQ(request(sluice, "GET", "/old"), 201);
  const Samples last = scrape_counted(sluice, 9);
  EXPECT_EQ(value(last, rq("hello", "", "GET", "2xx")), 4);
  EXPECT_EQ(value(last, rq("old", "", "GET", "2xx")), 1);
  EXPECT_EQ(value(last, "sluice_config_generation"), 3);
}

TEST(Metrics, ARefusedReloadIsCounted) {
  TestBackend app(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(config(app.address(), dead.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  rewrite(sluice, "listeners: [\n");
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("the running configuration is unchanged",
                                             std::chrono::seconds(10)));
  const Samples s = parse(scrape(sluice));
  EXPECT_EQ(value(s, "sluice_config_reloads_total{result=\"refused\"}"), 1);
  EXPECT_EQ(value(s, "sluice_config_reloads_total{result=\"applied\"}"), 0);
  EXPECT_EQ(value(s, "sluice_config_last_reload_successful"), 0);
  EXPECT_EQ(value(s, "sluice_config_generation"), 1);
}

TEST(Metrics, NamesPastMaxSeriesGetNoSeriesAndAWarningAtEachLoad) {
  // The listener, its "no route" key, route a and its key: 4. Routes b
  // and c and their keys are past the cap.
  const std::string yaml = R"(workers: 1
admin: {listen: 127.0.0.1:0}
metrics: {max_series: 4}
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - {name: a, match: {path: /a}, respond: {status: 200}}
  - {name: b, match: {path: /b}, respond: {status: 200}}
  - {name: c, match: {path: /c}, respond: {status: 200}}
)";
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(sluice.process().count("get no series"), 1u) << sluice.process().output();
  EXPECT_EQ(request(sluice, "GET", "/a"), 200);
  EXPECT_EQ(request(sluice, "GET", "/b"), 200);
  EXPECT_EQ(request(sluice, "GET", "/c"), 200);
  const Samples s = scrape_counted(sluice, 3);
  const std::string text = scrape(sluice);
  EXPECT_EQ(value(s, rq("a", "", "GET", "2xx")), 1);
  EXPECT_FALSE(mentions(s, "route=\"b\"")) << text;
  EXPECT_FALSE(mentions(s, "route=\"c\"")) << text;
  EXPECT_EQ(value(s, "sluice_metrics_series"), 4);
  EXPECT_EQ(value(s, "sluice_metrics_series_limit"), 4);
  EXPECT_EQ(value(s, "sluice_metrics_series_refused"), 4);
  EXPECT_EQ(value(s, "sluice_metrics_unattributed_requests_total"), 2);

  ASSERT_TRUE(reload(sluice, 1)) << sluice.process().output();
  EXPECT_EQ(sluice.process().count("get no series"), 2u) << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
