// Route lookup cost against table size: 1, 100 and 4,800 routes (800 hosts
// x 6 rules, a third of them regexes, as examples/many-routes.yaml). The
// figure to watch is the ratio of the large table's lookup to the 1-route
// table's (target: at most 1.5). Also reported: the compiled table's memory
// (malloc'd bytes) and the time to load and compile the large configuration.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "route/path_normalizer.h"
#include "route/route_table.h"

namespace {

using namespace sluice;

std::string host_routes(int i) {
  const std::string host = "h" + std::to_string(i) + ".example.com";
  const std::string backend = "app" + std::to_string(i);
  return "  - {match: {host: " + host + ", path_exact: /}, backend: " + backend + "}\n" +
         "  - {match: {host: " + host + ", path: /static/}, backend: " + backend + "}\n" +
         "  - {match: {host: " + host + ", path: /api/}, backend: " + backend + "}\n" +
         "  - {priority: 1, match: {host: " + host +
         ", path_regex: '^/api/v[0-9]+/users/([0-9]+)$'}, rewrite: {path: /users/$1}, backend: " +
         backend + "}\n" + "  - {priority: 1, match: {host: " + host +
         ", path_regex: '^/blog/([0-9]{4})/([a-z0-9-]+)$'}, backend: " + backend + "}\n" +
         "  - {match: {host: " + host +
         ", path: /admin, methods: [GET, POST]}, respond: {status: "
         "403}}\n";
}

// `routes` routes: whole hosts of 6, the last host cut short.
std::string table_yaml(int routes) {
  std::string y = "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes:\n";
  const int hosts = (routes + 5) / 6;
  int written = 0;
  for (int i = 0; i < hosts; ++i) {
    std::string block = host_routes(i);
    std::size_t pos = 0;
    for (int line = 0; line < 6 && written < routes; ++line, ++written) {
      const auto end = block.find('\n', pos);
      y += block.substr(pos, end - pos + 1);
      pos = end + 1;
    }
  }
  if (routes == 1) {
    // The one route: the users regex of h0 (the costly kind).
    y = "listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes:\n"
        "  - {priority: 1, match: {host: h0.example.com, path_regex: "
        "'^/api/v[0-9]+/users/([0-9]+)$'}, rewrite: {path: /users/$1}, backend: app0}\n";
  }
  y += "backends:\n";
  for (int i = 0; i < hosts; ++i)
    y += "  app" + std::to_string(i) + ": {servers: ['127.0.0.1:" + std::to_string(1000 + i) +
         "']}\n";
  return y;
}

std::shared_ptr<const config::Config> load(const std::string& yaml) {
  auto r = config::load_string(yaml, "bench.yaml");
  if (!r.ok()) {
    fprintf(stderr, "%s\n", r.diagnostics.empty() ? "?" : r.diagnostics[0].to_string().c_str());
    std::abort();
  }
  return r.config;
}

struct Probe {
  std::string host;
  std::string path;
};

void BM_RouteLookup(benchmark::State& state) {
  const int routes = static_cast<int>(state.range(0));
  const auto config = load(table_yaml(routes));
  const auto table = route::RouteTable::build(*config);
  const int hosts = (routes + 5) / 6;
  // The same request shapes whatever the table: a regex hit with captures,
  // a prefix hit, an exact hit, a miss inside the host; hosts spread over
  // the table. The path is normalised first, as the proxy does.
  std::vector<Probe> probes;
  for (int k = 0; k < 64; ++k) {
    const std::string host = "h" + std::to_string((k * 7919) % hosts) + ".example.com";
    probes.push_back({host, "/api/v2/users/" + std::to_string(1000 + k)});
    probes.push_back({host, "/static/app." + std::to_string(k) + ".js"});
    probes.push_back({host, "/"});
    probes.push_back({host, "/nothing/here"});
  }
  std::string normalized;
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    const Probe& p = probes[i++ % probes.size()];
    (void)route::normalize_path(p.path, normalized);
    route::RequestView v;
    v.host = p.host;
    v.path = normalized;
    v.method = "GET";
    route::Captures captures;
    const route::Route* r = table->match(v, &captures);
    found += r != nullptr;
    benchmark::DoNotOptimize(r);
  }
  state.counters["routes"] = static_cast<double>(table->size());
  state.counters["matched_share"] = static_cast<double>(found) / static_cast<double>(i);
}
BENCHMARK(BM_RouteLookup)->Arg(1)->Arg(100)->Arg(4800);

// Load (YAML -> model -> compiled table) of the 4,800-route configuration,
// and the compiled table's memory: malloc'd bytes while the table lives.
void BM_LoadManyRoutes(benchmark::State& state) {
  const std::string yaml = table_yaml(4800);
  double table_bytes = 0;
  for (auto _ : state) {
    auto config = load(yaml);
    const std::size_t before = mallinfo2().uordblks;
    auto table = route::RouteTable::build(*config);
    table_bytes = static_cast<double>(mallinfo2().uordblks - before);
    benchmark::DoNotOptimize(table);
  }
  state.counters["table_MB"] = table_bytes / (1024.0 * 1024.0);
  state.SetLabel("time = load + compile");
}
BENCHMARK(BM_LoadManyRoutes)->Unit(benchmark::kMillisecond)->Iterations(5);

// The same for examples/many-routes.yaml as shipped (block style, names,
// comments: more bytes for the YAML parser than the compact form above).
void BM_LoadExampleFile(benchmark::State& state) {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/examples/many-routes.yaml";
  for (auto _ : state) {
    auto r = config::load_file(path);
    if (!r.ok()) std::abort();
    auto table = route::RouteTable::build(*r.config);
    benchmark::DoNotOptimize(table);
  }
  state.SetLabel("time = load + compile");
}
BENCHMARK(BM_LoadExampleFile)->Unit(benchmark::kMillisecond)->Iterations(5);

// The compile step alone (model -> table), the part a reload repeats.
void BM_CompileManyRoutes(benchmark::State& state) {
  const auto config = load(table_yaml(4800));
  for (auto _ : state) {
    auto table = route::RouteTable::build(*config);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_CompileManyRoutes)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
