// The admin listener: POST /config applies a configuration or refuses it
// with line and column; GET /debug/memory shows what is alive. And the
// memory promise of live reconfiguration: a large table reloaded many
// times with idle connections and WebSockets open leaves one table alive
// and resident memory flat.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_SANITIZED 1
#else
#define SLUICE_SANITIZED 0
#endif

namespace sluice::test {
namespace {

std::string web_config(const std::string& greeting) {
  return R"(workers: 2
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: hello
    match: {path: /}
    respond: {status: 200, body: ")" +
         greeting + "\"}\n";
}

HttpResponse admin_call(const SluiceInstance& s, const std::string& method, const std::string& path,
                        const std::string& body = {}) {
  RawConnection c(s.port("admin"));
  // The Host a client reaching the admin by its address sends (the
  // listener refuses others: DNS rebinding, admin_security_test.cpp).
  std::string request = method + " " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port("admin")) + "\r\n";
  if (method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  c.send(request + "\r\n" + body);
  auto r = c.read_response(false, 60'000);
  return r ? *r : HttpResponse{};
}

// The number after "key": inside the JSON object named `object`.
long json_number(const std::string& json, const std::string& object, const std::string& key) {
  const auto at = json.find("\"" + object + "\": {");
  if (at == std::string::npos) return -1;
  std::smatch m;
  const std::string rest = json.substr(at, json.find('}', at) - at);
  if (!std::regex_search(rest, m, std::regex("\"" + key + "\": (\\d+)"))) return -1;
  return std::stol(m[1].str());
}

// Resident bytes of process `pid` from /proc (pages times the page size).
long kernel_resident_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  long size = 0, resident = -1;
  statm >> size >> resident;
  return resident < 0 ? -1 : resident * ::sysconf(_SC_PAGESIZE);
}

long resident_bytes(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("resident_bytes": (\d+))"))
             ? std::stol(m[1].str())
             : -1;
}

TEST(Admin, PostConfigAppliesAValidConfigurationAndRefusesABadOneWithLineAndColumn) {
  SluiceInstance sluice(web_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_NE(sluice.port("admin"), 0) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_EQ(get_body(client, "/"), "v1");

  auto bad = admin_call(sluice, "POST", "/config", "workers: 2\nlisteners: [\n  - name: web\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(std::regex_search(bad.body, std::regex(R"(POST /config:\d+:\d+: error: )")))
      << bad.body;
  EXPECT_EQ(get_body(client, "/"), "v1") << "a refused configuration changes nothing";

  std::string bad_regex = web_config("v2");
  bad_regex.replace(bad_regex.find("match: {path: /}"), 16, "match: {path_regex: \"(\"}");
  auto refused = admin_call(sluice, "POST", "/config", bad_regex);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("POST /config:7:5: error: "), std::string::npos) << refused.body;
  EXPECT_EQ(get_body(client, "/"), "v1");

  std::string moved_admin = web_config("v2");
  moved_admin.replace(moved_admin.find("127.0.0.1:0}"), 11, "127.0.0.2:0");
  auto restart = admin_call(sluice, "POST", "/config", moved_admin);
  EXPECT_EQ(restart.status, 400);
  EXPECT_NE(restart.body.find("needs a restart"), std::string::npos) << restart.body;

  // JSON is YAML too.
  const std::string json = R"({"workers": 2, "admin": {"listen": "127.0.0.1:0"},
    "listeners": [{"name": "web", "listen": "127.0.0.1:0"}],
    "routes": [{"name": "hello", "match": {"path": "/"},
                "respond": {"status": 200, "body": "from json"}}]})";
  auto applied = admin_call(sluice, "POST", "/config", json);
  EXPECT_EQ(applied.status, 200) << applied.body;
  EXPECT_NE(applied.body.find("applied: 1 listener, 1 route"), std::string::npos) << applied.body;
  EXPECT_EQ(get_body(client, "/"), "from json") << "the open connection sees it";
  // Issue 19: GET /config shows what was applied.
  EXPECT_NE(admin_call(sluice, "GET", "/config").body.find(json), std::string::npos);
  EXPECT_EQ(admin_call(sluice, "GET", "/nothing").status, 404);
}

TEST(Admin, DebugMemoryCountsConnectionsBuffersAndLiveConfigurations) {
  TestBackend backend(TestBackend::echo());
  std::string yaml = web_config("v1");
  yaml.replace(yaml.find("  - name: hello"), 0,
               "  - name: api\n    match: {path: /api/}\n    backend: app\n");
  yaml += "backends:\n  app:\n    servers: [" + backend.address() + "]\n";
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_EQ(get_body(*idle.back(), "/api/x").empty(), true);  // echo of an empty body
  }
  // A connection turns idle just after its response is written: ask again
  // until the count has caught up (each call is one admin request).
  std::string memory;
  for (int tries = 0; tries < 100; ++tries) {
    memory = admin_call(sluice, "GET", "/debug/memory").body;
    if (json_number(memory, "client_connections", "idle") == 3) break;
  }
  EXPECT_EQ(json_number(memory, "client_connections", "idle"), 3) << memory;
  EXPECT_EQ(json_number(memory, "client_connections", "active"), 0) << memory;
  // Every backend connection opened is idle in a pool now.
  EXPECT_EQ(json_number(memory, "backend_connections", "idle"), backend.accepted()) << memory;
  EXPECT_EQ(json_number(memory, "backend_connections", "in_use"), 0) << memory;
  EXPECT_EQ(json_number(memory, "buffers", "in_use"), 0) << "idle connections hold no buffer\n"
                                                         << memory;
  EXPECT_EQ(json_number(memory, "configuration", "generation"), 1) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "snapshots_alive"), 1) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "route_tables_alive"), 1) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "routes_alive"), 2) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "backends_alive"), 1) << memory;
  // The process's own resident size, as the kernel counts it just before
  // and after the call (it moves a little meanwhile).
  const long before = kernel_resident_bytes(sluice.process().pid());
  memory = admin_call(sluice, "GET", "/debug/memory").body;
  const long after = kernel_resident_bytes(sluice.process().pid());
  ASSERT_GT(before, 0);
  EXPECT_GE(resident_bytes(memory), std::min(before, after) * 9 / 10) << memory;
  EXPECT_LE(resident_bytes(memory), std::max(before, after) * 11 / 10) << memory;
}

// examples/many-routes.yaml (4,800 routes over 800 backends) made into
// 5,000 routes, with a WebSocket route, an admin listener and a greeting
// that changes with each reload.
std::string five_thousand_routes(const std::string& ws_backend, int generation) {
  std::ifstream in(source_dir() + "/examples/many-routes.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  yaml.replace(yaml.find("workers: auto"), 13, "workers: 2\nadmin: {listen: 127.0.0.1:0}");
  yaml.replace(yaml.find("127.0.0.1:8080\nroutes:"), 14, "127.0.0.1:0\n    timeouts: {idle: 600s}");
  std::string extra =
      "  - name: ws\n    match: {path: /ws}\n    backend: wsb\n"
      "  - name: gen\n    match: {path_exact: /gen}\n    respond: {status: 200, body: \"gen" +
      std::to_string(generation) + "\"}\n";
  for (int i = 0; i < 198; ++i) {
    extra += "  - name: extra" + std::to_string(i) + "\n    match: {path_regex: \"^/extra/" +
             std::to_string(i) + "/([a-z]+)$\"}\n    respond: {status: 200, body: \"x\"}\n";
  }
  yaml.replace(yaml.find("routes:\n") + 8, 0, extra);
  yaml += "  wsb:\n    servers: [" + ws_backend + "]\n";
  return yaml;
}

bool open_websocket(RawConnection& c) {
  if (!c.send("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
    return false;
  auto r = c.read_response(false, 10'000, true);
  return r && r->status == 101;
}

bool echoes(RawConnection& c) {
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";  // masked "Hello"
  if (!c.send(frame)) return false;
  std::string got;
  char buf[64];
  while (got.size() < frame.size()) {
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) return false;  // a lost echo fails, not hangs
    const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got == frame;
}

TEST(Admin, FiveThousandRoutesReloadedFiftyTimesKeepOneRouteTableAndFlatMemory) {
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  ASSERT_GE(files.rlim_cur, 2'000u) << "needs 1,200 descriptors for its clients";
  TestBackend ws_backend(TestBackend::websocket_echo(120'000));
  SluiceInstance sluice(five_thousand_routes(ws_backend.address(), 0));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_NE(sluice.process().output().find("5000 routes"), std::string::npos);

  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 1'000; ++i) {
    idle.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_EQ(get_body(*idle.back(), "/gen"), "gen0") << i;
  }
  std::vector<std::unique_ptr<RawConnection>> sockets;
  for (int i = 0; i < 100; ++i) {
    sockets.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(open_websocket(*sockets.back())) << i;
  }

  // Under the sanitizers a reload of this file takes seconds: fewer of
  // them still exercise every path.
  constexpr int kReloads = SLUICE_SANITIZED ? 6 : 50;
  long rss_after_first = 0;
  for (int i = 1; i <= kReloads; ++i) {
    std::ofstream(sluice.config_path(), std::ios::trunc)
        << five_thousand_routes(ws_backend.address(), i);
    ::kill(sluice.process().pid(), SIGHUP);
    ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", static_cast<std::size_t>(i),
                                                std::chrono::seconds(60)))
        << "reload " << i << "\n"
        << sluice.process().output().substr(0, 4000);
    if (i == 1) rss_after_first = resident_bytes(admin_call(sluice, "GET", "/debug/memory").body);
  }
  ASSERT_GT(rss_after_first, 0);
  // The last replaced configuration is freed on its own generation thread,
  // after "applied": on a loaded machine that can take a moment. Poll, with
  // a bound, until resident memory is back within the limit.
  std::string memory = admin_call(sluice, "GET", "/debug/memory").body;
  long rss_after_last = resident_bytes(memory);
  const auto settle_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!SLUICE_SANITIZED && rss_after_last > rss_after_first + rss_after_first / 10 &&
         std::chrono::steady_clock::now() < settle_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // between polls
    memory = admin_call(sluice, "GET", "/debug/memory").body;
    rss_after_last = resident_bytes(memory);
  }
#if !SLUICE_SANITIZED
  // (AddressSanitizer's allocator holds freed memory in quarantine: the
  // sanitized build checks everything but resident memory.)
  EXPECT_LE(rss_after_last, rss_after_first + rss_after_first / 10)
      << "first " << rss_after_first << ", last " << rss_after_last << "\n"
      << memory;
#endif
  // The WebSockets opened under generation 0 are still open: they hold
  // their route and backend, not their table.
  EXPECT_EQ(json_number(memory, "configuration", "generation"), kReloads + 1) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "route_tables_alive"), 1) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "snapshots_alive"), 1) << memory;
  // What the tunnels hold of generation 0: its 'ws' route and 'wsb'
  // backend, one of each, shared by all 100.
  EXPECT_EQ(json_number(memory, "configuration", "routes_alive"), 5'000 + 1) << memory;
  EXPECT_EQ(json_number(memory, "configuration", "backends_alive"), 801 + 1) << memory;
  EXPECT_EQ(json_number(memory, "client_connections", "idle"), 1'000) << memory;
  EXPECT_EQ(json_number(memory, "backend_connections", "in_use"), 100) << memory;
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(echoes(*sockets[static_cast<std::size_t>(i)])) << "tunnel " << i;
  for (int i = 0; i < 1'000; i += 50)
    EXPECT_EQ(get_body(*idle[static_cast<std::size_t>(i)], "/gen"),
              "gen" + std::to_string(kReloads))
        << i;
  std::printf("resident after the first reload %ld, after the last (%d) %ld\n", rss_after_first,
              kReloads, rss_after_last);
}

}  // namespace
}  // namespace sluice::test
