// Compression throughput of the compress middleware's encoders (issue 18):
// MB/s of input per coding and level, on an HTML page and a JSON API
// answer, fed as the proxy feeds them (16 KiB pieces, each flushed so the
// client sees it at once). Counters: `ratio` (coded/original) and
// `state_KiB` (what the encoder holds per response). The Flush benchmark
// prices flushing every piece against letting the encoder choose, by
// piece size (docs/middlewares/compress.md, "Streaming").
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "middleware/content_coding.h"

namespace {

using sluice::config::Coding;
using namespace sluice::middleware;

// Words from the project's own documentation: real prose, not noise.
std::vector<std::string> words() {
  std::vector<std::string> out;
  for (const char* doc : {"/docs/architecture.md", "/docs/config.md", "/docs/operations.md"}) {
    std::ifstream f(std::string(SLUICE_SOURCE_DIR) + doc);
    std::string w;
    while (f >> w)
      out.push_back(w);
  }
  if (out.empty()) out = {"proxy", "stream", "window", "route", "backend"};
  return out;
}

// A product listing page: a head with styles, a navigation, then cards of
// markup around prose, links and numbers.
std::string html_corpus(std::size_t bytes) {
  const auto w = words();
  std::string s =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Catalogue</title>"
      "<link rel=\"stylesheet\" href=\"/static/site.css\"><style>.card{display:flex;margin:0 "
      "auto;padding:1rem}.card h2{font-size:1.2rem}</style></head><body><nav><ul>";
  for (int i = 0; i < 12; ++i)
    s += "<li><a href=\"/section/" + std::to_string(i) + "\">" +
         w[static_cast<std::size_t>(i) % w.size()] + "</a></li>";
  s += "</ul></nav><main>\n";
  unsigned x = 42;
  std::size_t at = 0;
  auto word = [&] { return w[at++ % w.size()]; };
  while (s.size() < bytes) {
    x = x * 1103515245 + 12345;
    const unsigned id = (x >> 8) % 1000000;
    s += "<article class=\"card\" data-id=\"" + std::to_string(id) + "\"><h2><a href=\"/item/" +
         std::to_string(id) + "\">" + word() + " " + word() + "</a></h2><p>";
    for (int i = 0; i < 25; ++i)
      s += word() + " ";
    s += "</p><span class=\"price\">" + std::to_string(x % 10000 / 100) + "." +
         std::to_string(x % 100) + "</span><button class=\"buy\">Add to cart</button></article>\n";
  }
  s.resize(bytes);
  return s;
}

// An API answer: an array of records with ids, names, timestamps, tags.
std::string json_corpus(std::size_t bytes) {
  const auto w = words();
  std::string s = "{\"data\":[";
  unsigned x = 7;
  std::size_t at = 0;
  auto word = [&] { return w[at++ % w.size()]; };
  for (int n = 0; s.size() < bytes; ++n) {
    x = x * 1103515245 + 12345;
    s += std::string(n ? "," : "") + "{\"id\":" + std::to_string(100000 + n) + ",\"uuid\":\"" +
         std::to_string(x) + "-" + std::to_string(x >> 7) + "\",\"name\":\"" + word() +
         "\",\"created_at\":\"2026-11-" + std::to_string(10 + x % 18) + "T" +
         std::to_string(x % 24) + ":" + std::to_string(x % 60) +
         ":00Z\",\"active\":" + (x % 3 ? "true" : "false") +
         ",\"score\":" + std::to_string(x % 1000) + ",\"tags\":[\"" + word() + "\",\"" + word() +
         "\"],\"description\":\"";
    for (int i = 0; i < 8; ++i)
      s += word() + " ";
    s += "\"}";
  }
  s += "]}";
  return s;
}

const std::string& corpus(int which) {
  static const std::string html = html_corpus(256 * 1024);
  static const std::string json = json_corpus(256 * 1024);
  return which == 0 ? html : json;
}

// Codes `in` in pieces of `piece` bytes; returns the coded size.
std::size_t code(Coding c, int level, const std::string& in, std::size_t piece, bool flush,
                 std::size_t& state) {
  const std::size_t before = encoder_bytes_in_use();
  auto e = make_encoder(c, level, 0);
  std::string out;
  out.reserve(in.size());
  for (std::size_t at = 0; at < in.size(); at += piece) {
    const std::string_view p = std::string_view(in).substr(at, piece);
    const bool last = at + piece >= in.size();
    e->encode(p, last ? EncodeStep::finish : flush ? EncodeStep::flush : EncodeStep::more, out);
    state = std::max(state, encoder_bytes_in_use() - before);
  }
  return out.size();
}

// Args: coding, level, corpus (0 html, 1 json).
void BM_Compress(benchmark::State& state) {
  const auto c = static_cast<Coding>(state.range(0));
  const int level = static_cast<int>(state.range(1));
  const std::string& in = corpus(static_cast<int>(state.range(2)));
  std::size_t coded = 0;
  std::size_t held = 0;
  for (auto _ : state)
    coded = code(c, level, in, 16 * 1024, true, held);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(coded) / static_cast<double>(in.size());
  state.counters["state_KiB"] = static_cast<double>(held) / 1024.0;
  state.SetLabel(std::string(coding_name(c)) + (state.range(2) == 0 ? " html" : " json"));
}

// Args: coding, piece bytes, flush every piece (1) or not (0); html,
// default levels.
void BM_Flush(benchmark::State& state) {
  const auto c = static_cast<Coding>(state.range(0));
  const int level = c == Coding::gzip ? 5 : c == Coding::br ? 4 : 3;
  const std::string& in = corpus(0);
  std::size_t coded = 0;
  std::size_t held = 0;
  for (auto _ : state)
    coded = code(c, level, in, static_cast<std::size_t>(state.range(1)), state.range(2) != 0, held);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
  state.counters["ratio"] = static_cast<double>(coded) / static_cast<double>(in.size());
  state.SetLabel(std::string(coding_name(c)) + (state.range(2) ? " flush" : " no flush"));
}

void compress_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"coding", "level", "corpus"});
  for (int corpus : {0, 1}) {
    for (int level : {1, 5, 6, 9})
      b->Args({static_cast<int>(Coding::gzip), level, corpus});
    for (int level : {1, 4, 5, 6, 11})
      b->Args({static_cast<int>(Coding::br), level, corpus});
    for (int level : {1, 3, 6, 9, 19})
      b->Args({static_cast<int>(Coding::zstd), level, corpus});
  }
}

void flush_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"coding", "piece", "flush"});
  for (int c : {static_cast<int>(Coding::gzip), static_cast<int>(Coding::br),
                static_cast<int>(Coding::zstd)}) {
    for (int piece : {256, 1024, 4096, 16384}) {
      b->Args({c, piece, 1});
      b->Args({c, piece, 0});
    }
  }
}

BENCHMARK(BM_Compress)->Apply(compress_args)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Flush)->Apply(flush_args)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
