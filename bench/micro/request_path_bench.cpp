// The HTTP/1 request path in one process, without sockets: what a worker
// does for one proxied request between its read from the client and its
// write back, in nanoseconds, so that a regression shows before a load
// test (issue 20). The calls are the data path's own:
//
//   parse     http::RequestParser on the client's bytes (http1_session.cpp)
//   identity  the request's record and its X-Request-Id (request_identity.h)
//   route     resolve_target, find_route, apply_rewrite (request_routing.h)
//   upstream  ForwardedRequest, then encode_request_head as
//             Http1Upstream::prepare writes it
//   response  http::ResponseParser on the server's head (Http1Upstream)
//   client    forwarded_response, then encode_client_head as
//             Http1Downstream::queue_head writes it
//
// BM_RequestPath runs them all, per request; BM_Step* one each, on the
// previous steps' output made once; BM_Floor_ScanAndCopyHeads is the
// reference: both heads found and copied once. Every benchmark also reports
// allocs_per_req and alloc_bytes_per_req (malloc, calloc and realloc calls
// inside the timed loop, operator new included). The configuration is the
// real one: a 1-route table, and examples/many-routes.yaml (4,800 routes)
// through the loader and Snapshot::build.
//
// `request_path_bench --alloc_sites` runs one request of each table and
// prints where each allocation is made (file:line in src/, by addr2line).
#include <benchmark/benchmark.h>
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <execinfo.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "core/address.h"
#include "core/event_loop.h"
#include "http/h1_encoder.h"
#include "http/head_writer.h"
#include "http/parser.h"
#include "observe/request_record.h"
#include "proxy/destination_table.h"
#include "proxy/forwarded_request.h"
#include "proxy/forwarded_response.h"
#include "proxy/http1_downstream.h"
#include "proxy/middleware_chain.h"
#include "proxy/request_finish.h"
#include "proxy/request_identity.h"
#include "proxy/request_routing.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"
#include "route/route_table.h"

// ---- counting allocations
//
// malloc, calloc and realloc are interposed (operator new calls malloc), and
// go on to glibc's own. free is not counted: a request that allocates
// nothing frees nothing.
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
}

namespace {

std::size_t g_allocs = 0;
std::size_t g_alloc_bytes = 0;

// --alloc_sites: the call stacks of the allocations made while tracing.
struct Site {
  std::size_t bytes;
  int depth;
  std::array<void*, 24> frames;
};
bool g_tracing = false;
bool g_in_trace = false;
std::array<Site, 256> g_sites;
std::size_t g_site_count = 0;

// Inlined into each interposer, so that a trace's frame 0 is the interposer.
[[gnu::always_inline]] inline void count(std::size_t size) {
  ++g_allocs;
  g_alloc_bytes += size;
  if (g_tracing && !g_in_trace && g_site_count < g_sites.size()) {
    g_in_trace = true;
    Site& s = g_sites[g_site_count++];
    s.bytes = size;
    s.depth = backtrace(s.frames.data(), static_cast<int>(s.frames.size()));
    g_in_trace = false;
  }
}

}  // namespace

extern "C" void* malloc(std::size_t size) noexcept {
  count(size);
  return __libc_malloc(size);
}
extern "C" void* calloc(std::size_t n, std::size_t size) noexcept {
  count(n * size);
  return __libc_calloc(n, size);
}
extern "C" void* realloc(void* p, std::size_t size) noexcept {
  count(size);
  return __libc_realloc(p, size);
}

namespace {

using namespace sluice;

struct AllocCount {
  std::size_t allocs = g_allocs;
  std::size_t bytes = g_alloc_bytes;
  // Read before the counters are written: their map allocates.
  void report(benchmark::State& state) const {
    const auto n = static_cast<double>(state.iterations());
    const auto made = static_cast<double>(g_allocs - allocs);
    const auto made_bytes = static_cast<double>(g_alloc_bytes - bytes);
    state.counters["allocs_per_req"] = made / n;
    state.counters["alloc_bytes_per_req"] = made_bytes / n;
  }
};

// ---- the traffic: a browser fetching a script (10 fields), and an nginx
// answer (8 fields)

const std::string kRequest =
    "GET /static/js/app.3f2a1c.js HTTP/1.1\r\n"
    "Host: h417.example.com\r\n"
    "Connection: keep-alive\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Accept: */*\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Referer: https://h417.example.com/\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=abcdef0123456789; theme=dark\r\n"
    "\r\n";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Wed, 02 Dec 2026 09:00:00 GMT\r\n"
    "Content-Type: application/javascript\r\n"
    "Content-Length: 48213\r\n"
    "Last-Modified: Tue, 01 Dec 2026 18:00:00 GMT\r\n"
    "Connection: keep-alive\r\n"
    "ETag: \"6569a2f0-bc55\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "\r\n";

// The route the request takes in examples/many-routes.yaml (h417-static),
// alone.
const std::string kOneRoute =
    "listeners: [{name: web, listen: '127.0.0.1:8080'}]\n"
    "routes:\n"
    "  - {name: h417-static, match: {host: h417.example.com, path: /static/}, backend: app417}\n"
    "backends:\n"
    "  app417: {servers: ['127.0.1.162:8080']}\n";

// As the session and the exchange size them (http1_session.cpp
// kMaxFieldsCap, exchange.h kMaxResponseFields, a 16 KiB pool buffer).
constexpr std::size_t kRequestFieldsCap = 256;
constexpr std::size_t kResponseFields = 160;
constexpr std::size_t kBufferBytes = 16 * 1024;

std::shared_ptr<const config::Config> load(const config::LoadResult& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n",
                 r.diagnostics.empty() ? "?" : r.diagnostics[0].to_string().c_str());
    std::abort();
  }
  return r.config;
}

// One worker's view of a configuration: its snapshot, and what a session
// has at hand when a request comes (the listener, the client).
struct World {
  explicit World(const std::shared_ptr<const config::Config>& config) {
    proxy::Snapshot::BuildInputs inputs;
    for (std::size_t i = 0; i < config->listeners.size(); ++i)
      inputs.slot_of.push_back(i);
    snapshot = proxy::Snapshot::build(*config, destinations, inputs);
    listener = snapshot->in_slot(0).get();
    ctx.snapshot = snapshot;
    client = *SocketAddress::parse_numeric("203.0.113.7:51234");
  }
  proxy::DestinationTable destinations;
  std::shared_ptr<const proxy::Snapshot> snapshot;
  const proxy::ListenerSettings* listener = nullptr;
  EventLoop loop;
  proxy::WorkerContext ctx{0, loop, 1};
  SocketAddress client;
};

// Each made on first use: a filter that skips the large table skips its load.
World& world(int routes) {
  if (routes == 1) {
    static World one(load(config::load_string(kOneRoute, "one-route.yaml")));
    return one;
  }
  static World many(
      load(config::load_file(std::string(SLUICE_SOURCE_DIR) + "/examples/many-routes.yaml")));
  return many;
}

// What one request leaves behind at each step; a Request lives for one
// request, as the session's frame does.
struct Request {
  std::array<http::HeaderField, kRequestFieldsCap> request_fields;
  std::array<http::HeaderField, kResponseFields + 1> response_fields;
  std::array<char, kBufferBytes> upstream_head;
  std::array<char, kBufferBytes> client_head;
  std::optional<http::RequestParser> request_parser;
  observe::RequestRecord record;
  std::optional<proxy::RequestTarget> target;
  route::Captures captures;
  std::shared_ptr<const route::Route> route;
  std::shared_ptr<const proxy::Backend> backend;
  std::shared_ptr<const proxy::MiddlewareChain> middlewares;
  std::optional<proxy::ForwardedRequest> forwarded;
  std::size_t upstream_bytes = 0;
  std::optional<http::ResponseParser> response_parser;
  std::string cookie;
  std::size_t client_bytes = 0;
};

void fail(const char* step) {
  std::fprintf(stderr, "request_path_bench: %s failed\n", step);
  std::abort();
}

// Http1Session::serve_pinned: the parser over the buffered bytes.
void parse_request(World& w, Request& r) {
  const proxy::ListenerSettings& ls = *w.listener;
  const http::ParserLimits limits{ls.max_request_line, ls.max_head_bytes,
                                  std::min(ls.max_fields, kRequestFieldsCap)};
  r.request_parser.emplace(
      limits, std::span<http::HeaderField>(r.request_fields.data(), limits.max_fields));
  if (r.request_parser->parse(kRequest) != http::ParseState::complete) fail("parse");
}

// RequestRecording (live: request ids are on by default) and
// Http1Session::record_request.
void identify(World& w, Request& r) {
  const http::RequestHead& head = r.request_parser->head();
  r.record = observe::RequestRecord{};
  proxy::record_listener(r.record, *w.listener);
  proxy::record_head(r.record, head, "HTTP/1.1");
  r.record.bytes_in = r.request_parser->head_bytes();
  proxy::assign_identity(w.ctx, *w.listener, head, nullptr, r.record);
}

// serve_pinned, from the target to the route and its rewrite. Its target
// lives for one wake-up of the session, which is one request of a client
// that waits for each response (a browser, wrk, ab -k): made afresh here.
void route_request(World& w, Request& r) {
  const http::RequestHead& head = r.request_parser->head();
  r.target.reset();  // a move-assignment would keep the old strings' capacity
  r.target.emplace();
  if (proxy::resolve_target(head, *w.listener, *r.target) != route::PathError::none) fail("target");
  r.captures = route::Captures{};
  r.route = proxy::find_route(*w.snapshot, 0, head, r.target->view, r.captures, r.backend);
  if (r.route == nullptr || r.route->action != route::ActionKind::backend) fail("route");
  proxy::record_route(r.record, *r.route, r.backend.get());
  r.middlewares = proxy::chain_for(*w.snapshot, *w.listener, *r.route);
  if (!proxy::apply_rewrite(*r.route, r.captures, *r.target)) fail("rewrite");
}

// Exchange's constructor (the Host sent) and Http1Upstream::prepare.
void build_upstream_head(World& w, Request& r) {
  const http::RequestHead& head = r.request_parser->head();
  const std::string_view host = !r.route->rewrite().host.empty() ? r.route->rewrite().host
                                : !head.host.empty()             ? head.host
                                                     : r.backend->servers.front().address;
  r.forwarded.reset();
  r.forwarded.emplace(
      head, proxy::ForwardedRequest::Inputs{
                r.target->target, host, w.listener, &w.client, false, {}, nullptr, &r.record});
  http::HeadWriter out(r.upstream_head);
  if (!http::encode_request_head(out, r.forwarded->request())) fail("upstream head");
  r.upstream_bytes = out.size();
}

// Http1Upstream::read_head.
void parse_response(World&, Request& r) {
  r.response_parser.emplace(
      http::ParserLimits{kBufferBytes, kBufferBytes, kResponseFields},
      std::span<http::HeaderField>(r.response_fields.data(), kResponseFields));
  if (r.response_parser->parse(kResponse, http::Method::GET) != http::ParseState::complete) {
    fail("response parse");
  }
}

// Exchange::relay and Http1Downstream::queue_head.
void build_client_head(World& w, Request& r) {
  const http::ResponseHead& head = r.response_parser->head();
  const http::OutgoingResponse res = proxy::forwarded_response(
      head, r.response_fields, proxy::ForwardedResponseInputs{http::Method::GET, false, {}},
      r.cookie);
  r.record.status = res.status;
  const http::H1Framing framing = http::choose_framing(res.body, 1);
  const bool keep_alive = r.request_parser->head().keep_alive && framing != http::H1Framing::close;
  http::HeadWriter out(r.client_head);
  if (!proxy::encode_client_head(out, res, framing, 1, keep_alive, *w.listener, false, &r.record)) {
    fail("client head");
  }
  r.client_bytes = out.size();
}

void serve(World& w, Request& r) {
  parse_request(w, r);
  identify(w, r);
  route_request(w, r);
  build_upstream_head(w, r);
  parse_response(w, r);
  build_client_head(w, r);
}

// ---- benchmarks

void BM_RequestPath(benchmark::State& state) {
  World& w = world(static_cast<int>(state.range(0)));
  auto r = std::make_unique<Request>();
  serve(w, *r);
  const AllocCount allocs;
  for (auto _ : state) {
    serve(w, *r);
    benchmark::DoNotOptimize(r->client_bytes);
  }
  allocs.report(state);
  state.counters["routes"] = static_cast<double>(w.snapshot->routes->size());
  state.counters["upstream_head_B"] = static_cast<double>(r->upstream_bytes);
  state.counters["client_head_B"] = static_cast<double>(r->client_bytes);
}
BENCHMARK(BM_RequestPath)->ArgName("routes")->Arg(1)->Arg(4800);

// One step, on what one whole request left behind.
template <void (*Step)(World&, Request&)>
void step(benchmark::State& state) {
  World& w = world(static_cast<int>(state.range(0)));
  auto r = std::make_unique<Request>();
  serve(w, *r);
  const AllocCount allocs;
  for (auto _ : state) {
    Step(w, *r);
    benchmark::ClobberMemory();
  }
  allocs.report(state);
}

void BM_Step1_ParseRequest(benchmark::State& s) {
  step<parse_request>(s);
}
void BM_Step2_Identity(benchmark::State& s) {
  step<identify>(s);
}
void BM_Step3_Route(benchmark::State& s) {
  step<route_request>(s);
}
void BM_Step4_UpstreamHead(benchmark::State& s) {
  step<build_upstream_head>(s);
}
void BM_Step5_ParseResponse(benchmark::State& s) {
  step<parse_response>(s);
}
void BM_Step6_ClientHead(benchmark::State& s) {
  step<build_client_head>(s);
}
BENCHMARK(BM_Step1_ParseRequest)->ArgName("routes")->Arg(1);
BENCHMARK(BM_Step2_Identity)->ArgName("routes")->Arg(1);
BENCHMARK(BM_Step3_Route)->ArgName("routes")->Arg(1)->Arg(4800);
BENCHMARK(BM_Step4_UpstreamHead)->ArgName("routes")->Arg(1);
BENCHMARK(BM_Step5_ParseResponse)->ArgName("routes")->Arg(1);
BENCHMARK(BM_Step6_ClientHead)->ArgName("routes")->Arg(1);

// The floor (benchmarking.md: ratios, not absolutes): each head found by
// its blank line and copied once, the least any proxy does with it.
void BM_Floor_ScanAndCopyHeads(benchmark::State& state) {
  auto r = std::make_unique<Request>();
  for (auto _ : state) {
    for (const std::string* head : {&kRequest, &kResponse}) {
      const void* end = memmem(head->data(), head->size(), "\r\n\r\n", 4);
      benchmark::DoNotOptimize(end);
    }
    std::memcpy(r->upstream_head.data(), kRequest.data(), kRequest.size());
    std::memcpy(r->client_head.data(), kResponse.data(), kResponse.size());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Floor_ScanAndCopyHeads);

// ---- --alloc_sites

// Frames of this executable as addr2line wants them: file offsets when it
// is position-independent.
std::uintptr_t exe_address(void* pc, bool pie, bool& ours) {
  Dl_info mine{};
  Dl_info theirs{};
  dladdr(reinterpret_cast<void*>(&exe_address), &mine);
  ours = dladdr(pc, &theirs) != 0 && theirs.dli_fbase == mine.dli_fbase;
  const auto a = reinterpret_cast<std::uintptr_t>(pc) - 1;  // the call, not the return
  return pie ? a - reinterpret_cast<std::uintptr_t>(mine.dli_fbase) : a;
}

// A function's name without its parameter list (the last parenthesised
// group), so that "(anonymous namespace)::f(int) const" reads "...::f".
std::string without_parameters(std::string name) {
  if (name.ends_with(" const")) name.resize(name.size() - 6);
  if (!name.ends_with(")")) return name;
  int depth = 0;
  for (std::size_t i = name.size(); i-- > 0;) {
    if (name[i] == ')') ++depth;
    if (name[i] == '(' && --depth == 0) return name.substr(0, i);
  }
  return name;
}

// "symbol (library)" of a frame outside this executable.
std::string library_frame(void* pc) {
  Dl_info info{};
  if (dladdr(pc, &info) == 0) return "?";
  std::string lib = info.dli_fname != nullptr ? info.dli_fname : "?";
  if (const auto slash = lib.rfind('/'); slash != std::string::npos) lib = lib.substr(slash + 1);
  if (info.dli_sname == nullptr) return lib;
  int status = 0;
  char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
  std::string name =
      without_parameters(status == 0 && demangled != nullptr ? demangled : info.dli_sname);
  std::free(demangled);
  return name + " (" + lib + ")";
}

bool exe_is_pie() {
  Elf64_Ehdr h{};
  FILE* f = std::fopen("/proc/self/exe", "rb");
  if (f == nullptr) return true;
  const bool ok = std::fread(&h, sizeof h, 1, f) == 1;
  std::fclose(f);
  return !ok || h.e_type == ET_DYN;
}

// "file:line (function)" for each address, with the frames inlined into
// it (addr2line -i lists the innermost first).
std::vector<std::vector<std::string>> resolve(const std::vector<std::uintptr_t>& addresses) {
  std::string cmd = "addr2line -C -f -i -p -e /proc/" + std::to_string(getpid()) + "/exe";
  for (auto a : addresses) {
    char hex[32];
    std::snprintf(hex, sizeof hex, " 0x%lx", static_cast<unsigned long>(a));
    cmd += hex;
  }
  std::vector<std::vector<std::string>> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char line[4096];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::string s(line);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    const bool inlined = s.rfind(" (inlined by) ", 0) == 0;
    if (inlined) s = s.substr(14);
    // "function at /path/src/x/y.cpp:123" -> "src/x/y.cpp:123 (function)"
    const auto at = s.rfind(" at ");
    std::string where = at == std::string::npos ? s : s.substr(at + 4);
    std::string fn = at == std::string::npos ? "" : without_parameters(s.substr(0, at));
    if (const auto src = where.find("/src/"); src != std::string::npos) {
      where = where.substr(src + 1);
    } else if (const auto bench = where.find("/bench/"); bench != std::string::npos) {
      where = where.substr(bench + 1);
    }
    if (!inlined || out.empty()) out.emplace_back();
    out.back().push_back(where + " (" + fn + ")");
  }
  pclose(p);
  return out;
}

// One request through `routes`: each allocation, the sluice frames that
// made it (innermost first), identical stacks counted together.
void print_alloc_sites(int routes) {
  World& w = world(routes);
  auto r = std::make_unique<Request>();
  serve(w, *r);
  void* prime[4];
  (void)backtrace(prime, 4);  // its first call loads libgcc: not ours
  g_site_count = 0;
  const std::size_t before = g_allocs;
  g_tracing = true;
  serve(w, *r);
  g_tracing = false;
  std::printf("%d route(s): %zu allocation(s) per request\n", routes, g_allocs - before);
  const bool pie = exe_is_pie();
  std::map<std::string, std::pair<int, std::size_t>> seen;  // stack -> count, bytes
  std::vector<std::string> order;
  for (std::size_t i = 0; i < g_site_count; ++i) {
    const Site& s = g_sites[i];
    // Frame 0 is the interposer; then the libraries' frames (operator new,
    // RE2...) named by their symbols, then ours by file and line.
    std::string stack;
    int f = 1;
    for (; f < s.depth; ++f) {
      bool mine = false;
      (void)exe_address(s.frames[static_cast<std::size_t>(f)], pie, mine);
      if (mine) break;
      stack += "  in " + library_frame(s.frames[static_cast<std::size_t>(f)]) + "\n";
    }
    std::vector<std::uintptr_t> ours;
    for (; f < s.depth; ++f) {
      bool mine = false;
      const std::uintptr_t a = exe_address(s.frames[static_cast<std::size_t>(f)], pie, mine);
      if (mine) ours.push_back(a);
    }
    int shown = 0;
    for (const auto& frame : resolve(ours)) {
      for (const auto& call : frame) {
        if (call.rfind("src/", 0) != 0 && call.rfind("bench/", 0) != 0) continue;
        if (shown++ < 4) stack += "  at " + call + "\n";
      }
    }
    auto [it, fresh] = seen.try_emplace(stack, 0, 0);
    if (fresh) order.push_back(stack);
    it->second.first += 1;
    it->second.second += s.bytes;
  }
  for (const auto& stack : order) {
    const auto& [n, bytes] = seen[stack];
    std::printf("%dx, %zu B in all\n%s", n, bytes, stack.c_str());
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--alloc_sites") {
      print_alloc_sites(1);
      print_alloc_sites(4800);
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
