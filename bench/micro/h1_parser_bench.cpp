// Parser throughput on real request shapes, next to a reference: a plain
// scan for the end of the head over the same bytes. The ratio is the figure
// to watch (benchmarking.md: ratios, not absolutes).
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <string>

#include "http/parser.h"

namespace {

using namespace sluice::http;

const std::string kCurl =
    "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
const std::string kBrowser =
    "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"8\"\r\nsec-ch-ua-mobile: ?0\r\n"
    "Upgrade-Insecure-Requests: 1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: document\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\nCookie: session=abcdef0123456789; theme=dark\r\n\r\n";
const std::string kPost =
    "POST /api/v1/items HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n"
    "Content-Length: 27\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x\r\n\r\n";

void parse(benchmark::State& state, const std::string& req) {
  std::array<HeaderField, 100> storage;
  for (auto _ : state) {
    RequestParser p({}, storage);
    auto s = p.parse(req);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(p.head().host.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * req.size()));
}

// The floor: find "\r\n\r\n" and nothing else.
void scan(benchmark::State& state, const std::string& req) {
  for (auto _ : state) {
    const char* p = static_cast<const char*>(memmem(req.data(), req.size(), "\r\n\r\n", 4));
    benchmark::DoNotOptimize(p);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * req.size()));
}

BENCHMARK_CAPTURE(parse, curl_get, kCurl);
BENCHMARK_CAPTURE(scan, curl_get, kCurl);
BENCHMARK_CAPTURE(parse, browser_get, kBrowser);
BENCHMARK_CAPTURE(scan, browser_get, kBrowser);
BENCHMARK_CAPTURE(parse, post_content_length, kPost);
BENCHMARK_CAPTURE(scan, post_content_length, kPost);

}  // namespace

BENCHMARK_MAIN();
