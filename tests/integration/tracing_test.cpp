// Request ids and W3C trace context (issue 19): what the backend receives
// (X-Request-Id, traceparent, tracestate) and what the client gets back,
// over HTTP/1.1 and HTTP/2, and the spans a collector receives as OTLP/HTTP
// JSON (parsed by tests/support/otlp_check.py). A collector that is down or
// silent never holds a request up, and its lost spans are counted.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "integration/one_backend_config.h"
#include "integration/sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

const std::regex kUuid4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
const std::regex kTraceparent("00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])");

constexpr const char* kTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* kParent = "b7ad6b7169203331";

// One listener 'web' sending everything under / to an echoing backend,
// with `top` (request_id, tracing) at the top level. `/local` is answered
// by sluice itself (404: no route).
std::string config_with(const TestBackend& backend, const std::string& top) {
  return "workers: 1\n" + top + R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: app
    match: {path: /app}
    backend: app
backends:
  app:
    servers: [)" +
         backend.address() + "]\n";
}

// GET `target` over HTTP/1.1 with `fields` ("Name: value\r\n" lines).
HttpResponse get(const SluiceInstance& s, const std::string& target,
                 const std::string& fields = "") {
  RawConnection c(s.port("web"));
  EXPECT_TRUE(c.send("GET " + target + " HTTP/1.1\r\nHost: shop.example\r\n" + fields + "\r\n"));
  auto r = c.read_response();
  EXPECT_TRUE(r) << "no response to " << target;
  return r ? *r : HttpResponse{};
}

// GET over HTTP/2 with prior knowledge (curl): the response head as curl
// printed it (-D -).
std::string h2_get(const SluiceInstance& s, const std::string& target,
                   const std::vector<std::string>& fields = {}) {
  std::vector<std::string> argv{"curl", "-sS",      "--http2-prior-knowledge", "-D", "-",
                                "-o",   "/dev/null"};
  for (const auto& f : fields) {
    argv.push_back("-H");
    argv.push_back(f);
  }
  argv.push_back("http://127.0.0.1:" + std::to_string(s.port("web")) + target);
  const auto r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.output;
}

// The one value of `name` the backend received with its request for
// `target` (the last such request); "" when none, "<n fields>" when more.
std::string received(const TestBackend& b, const std::string& target, const std::string& name) {
  const auto requests = b.requests();
  for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
    if (it->target != target) continue;
    const auto n = it->headers.count(name);
    if (n > 1) return "<" + std::to_string(n) + " fields>";
    return it->header(name);
  }
  return "<no request for " + target + ">";
}

TEST(RequestId, IsGeneratedAsAUuidWhenTheClientSendsNone) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, ""));
  ASSERT_TRUE(s.ready());
  EXPECT_EQ(get(s, "/app/one").status, 200);
  EXPECT_EQ(get(s, "/app/two").status, 200);
  const std::string one = received(backend, "/app/one", "x-request-id");
  const std::string two = received(backend, "/app/two", "x-request-id");
  EXPECT_TRUE(std::regex_match(one, kUuid4)) << one;
  EXPECT_TRUE(std::regex_match(two, kUuid4)) << two;
  EXPECT_NE(one, two);
  EXPECT_EQ(get(s, "/app/three").header("x-request-id"), std::nullopt)
      << "not echoed unless request_id.response";
}

TEST(RequestId, AnUntrustedClientsIdIsReplacedNotForwarded) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, "request_id: {trust_from: [10.0.0.0/8]}\n"));
  ASSERT_TRUE(s.ready());
  EXPECT_EQ(get(s, "/app/a", "X-Request-Id: chosen-by-client\r\n").status, 200);
  const std::string id = received(backend, "/app/a", "x-request-id");
  EXPECT_TRUE(std::regex_match(id, kUuid4)) << id;
  EXPECT_EQ(get(s, "/app/b", "x-request-id: one\r\nX-Request-ID: two\r\n").status, 200);
  EXPECT_TRUE(std::regex_match(received(backend, "/app/b", "x-request-id"), kUuid4))
      << "two ids are replaced by one of ours";
}

TEST(RequestId, ATrustedNetworksIdIsKeptWhenItIsSafe) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, "request_id: {trust_from: [127.0.0.0/8]}\n"));
  ASSERT_TRUE(s.ready());
  get(s, "/app/kept", "X-Request-Id: lb-7f000001:8296_4F7B0A64\r\n");
  EXPECT_EQ(received(backend, "/app/kept", "x-request-id"), "lb-7f000001:8296_4F7B0A64");
  const std::string longest(64, 'k');
  get(s, "/app/longest", "X-Request-Id: " + longest + "\r\n");
  EXPECT_EQ(received(backend, "/app/longest", "x-request-id"), longest);
  get(s, "/app/too-long", "X-Request-Id: " + std::string(65, 'k') + "\r\n");
  EXPECT_TRUE(std::regex_match(received(backend, "/app/too-long", "x-request-id"), kUuid4));
  get(s, "/app/space", "X-Request-Id: two words\r\n");
  EXPECT_TRUE(std::regex_match(received(backend, "/app/space", "x-request-id"), kUuid4));
  get(s, "/app/utf8", "X-Request-Id: caf\xc3\xa9\r\n");
  EXPECT_TRUE(std::regex_match(received(backend, "/app/utf8", "x-request-id"), kUuid4));
}

TEST(RequestId, IsEchoedToTheClientOnProxiedAndLocalAnswersWhenAsked) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(
      config_with(backend, "request_id: {header: X-Correlation-Id, response: true}\n"));
  ASSERT_TRUE(s.ready());
  const HttpResponse proxied = get(s, "/app/echo");
  EXPECT_EQ(proxied.count("x-correlation-id"), 1u);
  EXPECT_EQ(proxied.header("x-correlation-id").value_or(""),
            received(backend, "/app/echo", "x-correlation-id"));
  EXPECT_EQ(proxied.header("x-request-id"), std::nullopt) << "the configured name only";
  const HttpResponse local = get(s, "/local");
  EXPECT_EQ(local.status, 404);
  EXPECT_TRUE(std::regex_match(local.header("x-correlation-id").value_or(""), kUuid4))
      << local.raw_head;
  const std::string h2 = h2_get(s, "/app/over-h2");
  EXPECT_NE(h2.find("x-correlation-id: " + received(backend, "/app/over-h2", "x-correlation-id")),
            std::string::npos)
      << h2;
}

TEST(RequestId, OffLeavesTheClientsFieldAlone) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, "request_id: false\n"));
  ASSERT_TRUE(s.ready());
  get(s, "/app/mine", "X-Request-Id: mine\r\n");
  EXPECT_EQ(received(backend, "/app/mine", "x-request-id"), "mine");
  get(s, "/app/none");
  EXPECT_EQ(received(backend, "/app/none", "x-request-id"), "");
}

TEST(RequestId, IsGeneratedAndReplacedOverHttp2Too) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, ""));
  ASSERT_TRUE(s.ready());
  h2_get(s, "/app/h2", {"X-Request-Id: chosen-by-client"});
  EXPECT_TRUE(std::regex_match(received(backend, "/app/h2", "x-request-id"), kUuid4))
      << received(backend, "/app/h2", "x-request-id");
}

std::string traceparent(const std::string& trace, const std::string& parent,
                        const std::string& flags) {
  return "00-" + trace + "-" + parent + "-" + flags;
}

TEST(TraceContext, AValidTraceparentContinuesItsTraceWithOurSpanAsTheParent) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, "tracing: {sample: 0}\n"));
  ASSERT_TRUE(s.ready());
  const std::string fields = "traceparent: " + traceparent(kTrace, kParent, "01") +
                             "\r\ntracestate: vendor=abc,other=1\r\n";
  EXPECT_EQ(get(s, "/app/continued", fields).status, 200);
  const std::string sent = received(backend, "/app/continued", "traceparent");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(sent, m, kTraceparent)) << sent;
  EXPECT_EQ(m[1], kTrace) << "the same trace";
  EXPECT_NE(m[2], kParent) << "our span is the backend's parent";
  EXPECT_EQ(m[3], "01") << "the caller's sampling decision stands (sample: 0 is for new traces)";
  EXPECT_EQ(received(backend, "/app/continued", "tracestate"), "vendor=abc,other=1");

  // Over HTTP/2 too, and an unsampled caller stays unsampled.
  h2_get(s, "/app/continued-h2",
         {"traceparent: " + traceparent(kTrace, kParent, "00"), "tracestate: vendor=h2"});
  const std::string h2 = received(backend, "/app/continued-h2", "traceparent");
  ASSERT_TRUE(std::regex_match(h2, m, kTraceparent)) << h2;
  EXPECT_EQ(m[1], kTrace);
  EXPECT_NE(m[2], kParent);
  EXPECT_EQ(m[3], "00");
  EXPECT_EQ(received(backend, "/app/continued-h2", "tracestate"), "vendor=h2");
}

TEST(TraceContext, AnInvalidTraceparentStartsANewTraceWithoutTheOldState) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, "tracing: {sample: 1}\n"));
  ASSERT_TRUE(s.ready());
  const std::string upper = "0AF7651916CD43DD8448EB211C80319C";
  for (const std::string& bad :
       {traceparent(upper, kParent, "01"), traceparent(std::string(32, '0'), kParent, "01"),
        traceparent(kTrace, kParent, "01") + "-extra", std::string("garbage")}) {
    SCOPED_TRACE(bad);
    const std::string target = "/app/invalid" + std::to_string(bad.size());
    get(s, target, "traceparent: " + bad + "\r\ntracestate: vendor=stale\r\n");
    const std::string sent = received(backend, target, "traceparent");
    std::smatch m;
    ASSERT_TRUE(std::regex_match(sent, m, kTraceparent)) << sent;
    EXPECT_NE(m[1], kTrace);
    EXPECT_EQ(m[3], "01") << "sample: 1";
    EXPECT_EQ(received(backend, target, "tracestate"), "") << "it belonged to the old trace";
  }
}

TEST(TraceContext, ATraceparentIsCreatedWhenAbsentWithTheConfiguredSampling) {
  TestBackend backend(TestBackend::echo());
  {
    SluiceInstance s(config_with(backend, "tracing: {sample: 0}\n"));
    ASSERT_TRUE(s.ready());
    get(s, "/app/never");
    std::smatch m;
    const std::string sent = received(backend, "/app/never", "traceparent");
    ASSERT_TRUE(std::regex_match(sent, m, kTraceparent)) << sent;
    EXPECT_EQ(m[3], "00");
  }
  SluiceInstance s(config_with(backend, "tracing: {sample: 1}\n"));
  ASSERT_TRUE(s.ready());
  std::set<std::string> traces;
  for (int i = 0; i < 3; ++i) {
    const std::string target = "/app/always" + std::to_string(i);
    get(s, target);
    std::smatch m;
    const std::string sent = received(backend, target, "traceparent");
    ASSERT_TRUE(std::regex_match(sent, m, kTraceparent)) << sent;
    EXPECT_EQ(m[3], "01");
    traces.insert(m[1]);
  }
  EXPECT_EQ(traces.size(), 3u) << "a new trace each time";
}

TEST(TraceContext, WithoutTracingTheClientsFieldsPassUntouched) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config_with(backend, ""));
  ASSERT_TRUE(s.ready());
  get(s, "/app/as-is", "traceparent: not-valid-at-all\r\ntracestate: a=b\r\n");
  EXPECT_EQ(received(backend, "/app/as-is", "traceparent"), "not-valid-at-all");
  EXPECT_EQ(received(backend, "/app/as-is", "tracestate"), "a=b");
}

// A collector: records each POST and answers 200.
TestBackend::Script collecting() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r))
      if (!c.send(make_response(200, "{}"))) return;
  };
}

std::string otlp_config(const TestBackend& backend, const std::string& collector,
                        const std::string& extra = "") {
  return config_with(backend,
                     "tracing:\n  sample: 1\n  service_name: edge\n  otlp:\n"
                     "    endpoint: http://" +
                         collector +
                         "/v1/traces\n    batch: 4\n"
                         "    flush_interval: 100ms\n" +
                         extra);
}

// The checker's lines for every POST body the collector received.
std::vector<std::string> spans_received(const TestBackend& collector, const TempDir& dir) {
  std::vector<std::string> argv{"python3", source_dir() + "/tests/support/otlp_check.py"};
  int i = 0;
  for (const auto& post : collector.requests()) {
    EXPECT_EQ(post.method, "POST");
    EXPECT_EQ(post.target, "/v1/traces");
    EXPECT_EQ(post.header("content-type"), "application/json");
    argv.push_back(dir.write("post" + std::to_string(i++) + ".json", post.body));
  }
  const auto r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> lines;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

TEST(TraceExport, SampledRequestsArriveAtTheCollectorAsOtlpJsonSpans) {
  TestBackend backend(TestBackend::echo());
  TestBackend collector(collecting());
  SluiceInstance s(otlp_config(backend, collector.address()));
  ASSERT_TRUE(s.ready());
  get(s, "/app/traced?x=1", "traceparent: " + traceparent(kTrace, kParent, "01") + "\r\n");
  get(s, "/app/unsampled", "traceparent: " + traceparent(kTrace, kParent, "00") + "\r\n");
  get(s, "/app/root");
  EXPECT_EQ(get(s, "/local").status, 404);
  h2_get(s, "/app/h2");
  ASSERT_TRUE(collector.wait_for_requests(1)) << s.process().output();
  // Four sampled spans: one batch, or two when the interval fell between.
  ASSERT_EQ(s.process().stop(SIGTERM), 0);
  TempDir dir;
  const auto spans = spans_received(collector, dir);
  ASSERT_EQ(spans.size(), 4u) << "the unsampled request has no span";
  const auto span_of = [&spans](const std::string& path) {
    for (const auto& line : spans)
      if (line.find(" url.path=" + path) != std::string::npos) return line;
    return std::string("<no span for " + path + ">");
  };
  std::smatch m;
  const std::string traced = received(backend, "/app/traced?x=1", "traceparent");
  ASSERT_TRUE(std::regex_match(traced, m, kTraceparent));
  const std::string our_span = m[2];
  const std::string request_id = received(backend, "/app/traced?x=1", "x-request-id");
  EXPECT_EQ(span_of("/app/traced"),
            "span service=edge trace=" + std::string(kTrace) + " span=" + our_span +
                " parent=" + kParent +
                " name=GET kind=2 status=0 dur_ok=1 client.address=127.0.0.1 "
                "http.request.method=GET http.response.status_code=200 "
                "network.protocol.version=1.1 server.address=shop.example sluice.backend=app "
                "sluice.request_id=" +
                request_id + " sluice.route=app sluice.server=" + backend.address() +
                " sluice.termination=-- url.path=/app/traced url.query=x=1");

  const std::string root = received(backend, "/app/root", "traceparent");
  ASSERT_TRUE(std::regex_match(root, m, kTraceparent));
  EXPECT_NE(
      span_of("/app/root")
          .find("trace=" + std::string(m[1]) + " span=" + std::string(m[2]) + " parent= name=GET"),
      std::string::npos)
      << "a trace we began has a root span: " << span_of("/app/root");
  const std::string local = span_of("/local");
  EXPECT_NE(local.find("http.response.status_code=404"), std::string::npos) << local;
  EXPECT_EQ(local.find("sluice.route="), std::string::npos) << "no route matched: " << local;
  EXPECT_NE(span_of("/app/h2").find("network.protocol.version=2 "), std::string::npos)
      << span_of("/app/h2");
  EXPECT_NE(s.process().output().find("tracing: 4 span(s) exported, 0 dropped"), std::string::npos)
      << s.process().output();
}

TEST(TraceExport, ACollectorThatIsDownCostsSpansNotRequests) {
  TestBackend backend(TestBackend::echo());
  RefusingPort down;
  SluiceInstance s(otlp_config(backend, down.address()));
  ASSERT_TRUE(s.ready());
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(get(s, "/app/served" + std::to_string(i)).status, 200);
  }
  EXPECT_TRUE(s.process().wait_for_line("tracing: cannot export spans to http://" + down.address() +
                                        "/v1/traces"));
  ASSERT_EQ(s.process().stop(SIGTERM), 0);
  EXPECT_NE(s.process().output().find("tracing: 0 span(s) exported, 20 dropped"), std::string::npos)
      << s.process().output();
}

TEST(TraceExport, ACollectorThatNeverAnswersHoldsNoRequestUp) {
  TestBackend backend(TestBackend::echo());
  TestBackend silent([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.wait_closed(30'000);
  });
  SluiceInstance s(otlp_config(backend, silent.address(), "    timeout: 20s\n    queue: 8\n"));
  ASSERT_TRUE(s.ready());
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(get(s, "/app/first" + std::to_string(i)).status, 200);
  ASSERT_TRUE(silent.wait_for_requests(1)) << "the first batch went, and waits for an answer";
  // The exporter waits up to 20 s; requests meanwhile are served at once
  // and their spans fill the queue (8), then are dropped.
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(get(s, "/app/meanwhile" + std::to_string(i)).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
  EXPECT_EQ(silent.requests().size(), 1u) << "one batch at a time";
}

}  // namespace
}  // namespace sluice::test

namespace sluice::test {
namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(TraceReload, ANewSampleRateAppliesAndANewExporterNeedsARestart) {
  TestBackend backend(TestBackend::echo());
  TestBackend collector(collecting());
  SluiceInstance s(otlp_config(backend, collector.address()));
  ASSERT_TRUE(s.ready());
  // sample: 1 -> 0, the exporter unchanged: applied.
  std::string next = otlp_config(backend, collector.address());
  next.replace(next.find("sample: 1"), 9, "sample: 0");
  write_file(s.config_path(), next);
  ::kill(s.process().pid(), SIGHUP);
  ASSERT_TRUE(s.process().wait_for_line("reload: applied", 10s)) << s.process().output();
  get(s, "/app/after-reload");
  std::smatch m;
  const std::string sent = received(backend, "/app/after-reload", "traceparent");
  ASSERT_TRUE(std::regex_match(sent, m, kTraceparent)) << sent;
  EXPECT_EQ(m[3], "00");
  // Another collector: refused, the running one stays.
  TestBackend other(collecting());
  write_file(s.config_path(), otlp_config(backend, other.address()));
  ::kill(s.process().pid(), SIGHUP);
  EXPECT_TRUE(s.process().wait_for_line(
      "changing tracing.otlp or tracing.service_name needs a restart", 10s))
      << s.process().output();
}

}  // namespace
}  // namespace sluice::test

namespace sluice::test {
namespace {

// A headers middleware's ${request_id} is the request's id, not another one.
TEST(RequestId, AMiddlewaresRequestIdVariableIsTheSameId) {
  TestBackend backend(TestBackend::echo());
  std::string yaml = config_with(backend, "");
  yaml.replace(yaml.find("    backend: app\n"), 17, "    backend: app\n    middlewares: [copy]\n");
  yaml +=
      "middlewares:\n  copy:\n    headers:\n      request:\n"
      "        set: {X-Copy: \"id ${request_id}\"}\n";
  SluiceInstance s(yaml);
  ASSERT_TRUE(s.ready()) << s.process().output();
  EXPECT_EQ(get(s, "/app/copied").status, 200);
  const std::string id = received(backend, "/app/copied", "x-request-id");
  EXPECT_TRUE(std::regex_match(id, kUuid4)) << id;
  EXPECT_EQ(received(backend, "/app/copied", "x-copy"), "id " + id);
}

}  // namespace
}  // namespace sluice::test
