// The access log's cost per request (issue 19): what a worker spends to
// format a typical proxied request's line (JSON, and the `text` format
// string) into its reused buffer, and what a whole line costs the process
// from AccessLog::log() to write(2) on /dev/null, the writer thread
// included (process CPU time). Compare with the proxy's CPU per request
// (docs/benchmarks.md: about 16 CPU-µs for keep-alive /): the budget is
// 10% of it, 1.6 µs.
#include <benchmark/benchmark.h>

#include <string>

#include "config/loader.h"
#include "config/model.h"
#include "observe/access_log_format.h"
#include "observe/access_log_writer.h"
#include "observe/wall_clock.h"

namespace {

using namespace sluice;

struct Request {
  SocketAddress client = *SocketAddress::parse_numeric("192.0.2.7:51234");
  observe::RequestRecord r;
  Request() {
    r.start_unix_us = observe::unix_now_us();
    r.client = &client;
    r.listener = "web";
    r.protocol = "HTTP/1.1";
    r.method = "GET";
    r.host = "shop.example.com";
    r.target = "/api/v1/users/12345/orders?page=2&sort=desc";
    r.route = "api";
    r.backend = "app";
    r.server = "10.0.0.5:8080";
    r.status = 200;
    r.bytes_in = 212;
    r.bytes_out = 845;
    r.first_byte_us = 812;
    r.total_us = 934;
    r.reused_connection = true;
    r.termination = "--";
  }
};

void BM_FormatJson(benchmark::State& state) {
  Request req;
  observe::AccessLogFormat json;
  observe::SecondClock clock;
  std::string line;
  for (auto _ : state) {
    line.clear();
    json.append(req.r, clock, line);
    benchmark::DoNotOptimize(line.data());
  }
  state.counters["bytes"] = static_cast<double>(line.size());
}

void BM_FormatText(benchmark::State& state) {
  Request req;
  std::vector<config::AccessLogPiece> pieces;
  std::string error;
  std::string bad;
  config::parse_access_log_format(config::kAccessLogTextFormat, pieces, error, bad);
  observe::AccessLogFormat text(std::move(pieces));
  observe::SecondClock clock;
  std::string line;
  for (auto _ : state) {
    line.clear();
    text.append(req.r, clock, line);
    benchmark::DoNotOptimize(line.data());
  }
  state.counters["bytes"] = static_cast<double>(line.size());
}

// Worker and writer together: process CPU per line, lines dropped when the
// writer falls behind are counted (they cost the worker less).
void BM_LogToDevNull(benchmark::State& state) {
  auto loaded = config::load_string(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\naccess_log: {path: /dev/null}\n", "b.yaml",
      "/");
  observe::AccessLogWriter writer(1);
  std::string error;
  writer.worker(0).set_policy(writer.configure(*loaded.config, error));
  Request req;
  for (auto _ : state)
    writer.worker(0).log(req.r);
  writer.flush();
  state.counters["dropped"] = static_cast<double>(writer.dropped());
}

}  // namespace

BENCHMARK(BM_FormatJson);
BENCHMARK(BM_FormatText);
BENCHMARK(BM_LogToDevNull)->MeasureProcessCPUTime();

BENCHMARK_MAIN();
