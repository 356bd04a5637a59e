// Issue 19, the runtime API on the admin listener: a server's weight set
// at run time (and kept over reloads that keep the server's weight in the
// file), GET /config showing the configuration in force, and GET
// /routes/explain saying which route a request gets and why.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "server_fleet.h"
#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

constexpr const char* kToken = "runtime-Token_0123456789abcdef";

// One route to one backend of the fleet's servers, balanced by
// `balance` (hash: by X-User); `first_server_extra` goes in the first
// server's {} after its address, `more_routes` before the route, `admin`
// is the admin block.
std::string fleet_config(const Fleet& fleet, const std::string& balance = "round_robin",
                         const std::string& first_server_extra = "",
                         const std::string& more_routes = "",
                         const std::string& admin = "{listen: 127.0.0.1:0}") {
  std::string servers;
  for (std::size_t i = 0; i < fleet.servers.size(); ++i) {
    servers += std::string(i ? ", " : "") + "{address: " + fleet.address(static_cast<int>(i)) +
               (i == 0 ? first_server_extra : "") + "}";
  }
  return "workers: 2\nadmin: " + admin +
         "\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "routes:\n" +
         more_routes +
         "  - name: app\n"
         "    backend: app\n"
         "backends:\n"
         "  app:\n"
         "    balance: " +
         balance + "\n" + (balance == "hash" ? "    hash: {key: header, name: X-User}\n" : "") +
         "    servers: [" + servers + "]\n";
}

HttpResponse admin_call(const SluiceInstance& s, const std::string& method,
                        const std::string& target, const std::string& body = "",
                        const std::string& headers = "") {
  RawConnection c(s.port("admin"));
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port("admin")) + "\r\n" +
                        headers;
  if (method != "GET" && method != "HEAD") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  c.send(request + "\r\n" + body);
  auto r = c.read_response(method == "HEAD", 30'000);
  return r ? *r : HttpResponse{};
}

std::string weight_path(const std::string& backend, const std::string& address) {
  return "/backends/" + backend + "/servers/" + address + "/weight";
}

// SIGHUP after writing `yaml` to the file, and the reload's outcome seen.
bool reload_file(SluiceInstance& s, const std::string& yaml) {
  std::ofstream(s.config_path(), std::ios::trunc) << yaml;
  const std::size_t before = s.process().count("reload: applied");
  ::kill(s.process().pid(), SIGHUP);
  return s.process().wait_for_count("reload: applied", before + 1, std::chrono::seconds(10));
}

// ---- weight ----------------------------------------------------------------

TEST(RuntimeWeight, ANewWeightShiftsTheShareOfRequestsAndIsListedAndLogged) {
  Fleet fleet(2);
  SluiceInstance sluice(fleet_config(fleet));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(share(get_n(client, 20), "a"), 10u) << "1:1 to begin with";

  const HttpResponse r = admin_call(sluice, "PUT", weight_path("app", fleet.address(0)), "3\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{\"address\": \"" + fleet.address(0) +
                        "\", \"weight\": 3, \"configured_weight\": 1, \"backup\": false, "
                        "\"health\": \"up\", \"admin_state\": \"enabled\", \"in_flight\": 0}\n");
  EXPECT_TRUE(sluice.process().wait_for_line("backend 'app' server " + fleet.address(0) +
                                                 ": weight 3 (was 1; 1 in the configuration), by "
                                                 "the admin API",
                                             std::chrono::seconds(5)));
  // Smooth weighted round robin over whole cycles of 3 + 1.
  const std::vector<std::string> bodies = get_n(client, 200);
  EXPECT_EQ(share(bodies, "a"), 150u);
  EXPECT_EQ(share(bodies, "b"), 50u);
  EXPECT_NE(
      admin_call(sluice, "GET", "/backends").body.find("\"weight\": 3, \"configured_weight\": 1"),
      std::string::npos);

  // POST works as PUT; back to the file's weight, the listing says no more.
  ASSERT_EQ(admin_call(sluice, "POST", weight_path("app", fleet.address(0)), "1").status, 200);
  EXPECT_EQ(share(get_n(client, 20), "a"), 10u);
  EXPECT_EQ(admin_call(sluice, "GET", "/backends").body.find("configured_weight"),
            std::string::npos);
}

TEST(RuntimeWeight, WeightZeroEmptiesAServerUnderEveryBalanceThatWeighs) {
  for (const std::string& balance :
       std::vector<std::string>{"least_conn", "random", "p2c", "hash"}) {
    SCOPED_TRACE(balance);
    Fleet fleet(2);
    SluiceInstance sluice(fleet_config(fleet, balance));
    ASSERT_TRUE(sluice.ready()) << sluice.process().output();
    ASSERT_EQ(admin_call(sluice, "PUT", weight_path("app", fleet.address(1)), "0").status, 200);
    RawConnection client(sluice.port("web"));
    std::vector<std::string> bodies;
    for (int i = 0; i < 40; ++i)
      bodies.push_back(get(client, "/", "X-User: user-" + std::to_string(i) + "\r\n"));
    EXPECT_EQ(share(bodies, "a"), 40u);
    // And back: b takes requests again (a hash backend's keys return).
    ASSERT_EQ(admin_call(sluice, "PUT", weight_path("app", fleet.address(1)), "5").status, 200);
    bodies.clear();
    for (int i = 0; i < 40; ++i)
      bodies.push_back(get(client, "/", "X-User: user-" + std::to_string(i) + "\r\n"));
    EXPECT_GT(share(bodies, "b"), 0u);
  }
}

TEST(RuntimeWeight, TheWeightOutlastsAReloadUntilTheFileGivesTheServerANewOne) {
  Fleet fleet(2);
  SluiceInstance sluice(fleet_config(fleet));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_EQ(admin_call(sluice, "PUT", weight_path("app", fleet.address(0)), "0").status, 200);

  // A reload that changes the routes and keeps the server as it was.
  const std::string ping =
      "  - {name: ping, match: {path: /ping}, respond: {status: 200, body: pong}}\n";
  ASSERT_TRUE(reload_file(sluice, fleet_config(fleet, "round_robin", "", ping)))
      << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_EQ(get(client, "/ping"), "pong") << "the new configuration is in force";
  EXPECT_EQ(share(get_n(client, 20), "b"), 20u);
  EXPECT_NE(
      admin_call(sluice, "GET", "/backends").body.find("\"weight\": 0, \"configured_weight\": 1"),
      std::string::npos);

  // The file now says weight 2 for that server: the file wins.
  ASSERT_TRUE(reload_file(sluice, fleet_config(fleet, "round_robin", ", weight: 2", ping)));
  EXPECT_TRUE(sluice.process().wait_for_line("server " + fleet.address(0) +
                                                 ": the configuration's new weight 2 replaces the "
                                                 "weight 0 set at run time",
                                             std::chrono::seconds(5)));
  RawConnection after(sluice.port("web"));
  EXPECT_EQ(share(get_n(after, 30), "a"), 20u);
  const std::string listing = admin_call(sluice, "GET", "/backends").body;
  EXPECT_NE(listing.find("\"weight\": 2, \"backup\""), std::string::npos) << listing;
}

TEST(RuntimeWeight, UnknownServerIs404AndABadWeightIs400AndNothingChanges) {
  Fleet fleet(2);
  SluiceInstance sluice(fleet_config(fleet));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  HttpResponse r = admin_call(sluice, "PUT", weight_path("nope", fleet.address(0)), "2");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no backend 'nope'\n");
  RefusingPort elsewhere;
  r = admin_call(sluice, "PUT", weight_path("app", elsewhere.address()), "2");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "backend 'app' has no server " + elsewhere.address() + "\n");
  for (const std::string& body : std::vector<std::string>{"", "heavy", "257", "-1", "2.5"}) {
    r = admin_call(sluice, "PUT", weight_path("app", fleet.address(0)), body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.body, "the body must be a weight: an integer from 0 (no new requests) to 256\n");
  }
  EXPECT_EQ(admin_call(sluice, "PUT", weight_path("a%zz", fleet.address(0)), "2").status, 400);
  const HttpResponse get_it = admin_call(sluice, "GET", weight_path("app", fleet.address(0)));
  EXPECT_EQ(get_it.status, 405);
  EXPECT_EQ(get_it.header("allow"), "PUT, POST");
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(share(get_n(client, 10), "a"), 5u);
  EXPECT_EQ(sluice.process().count("by the admin API"), 0u);
}

TEST(RuntimeWeight, ChangesNeedTheTokenAndReadsNeedItOffLoopback) {
  Fleet fleet(2);
  TempDir secrets;
  const std::string token_file = secrets.write("admin.token", kToken);
  SluiceInstance sluice(fleet_config(fleet, "round_robin", "", "",
                                     "{listen: 127.0.0.1:0, token_file: " + token_file + "}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string path = weight_path("app", fleet.address(0));
  HttpResponse r = admin_call(sluice, "PUT", path, "3");
  EXPECT_EQ(r.status, 401);
  r = admin_call(sluice, "PUT", path, "3", "Authorization: Bearer nope\r\n");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(admin_call(sluice, "GET", "/backends").body.find("\"weight\": 3"), std::string::npos);
  r = admin_call(sluice, "PUT", path, "3", std::string("Authorization: Bearer ") + kToken + "\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  // Reads stay open on loopback.
  EXPECT_EQ(admin_call(sluice, "GET", "/config").status, 200);
  EXPECT_EQ(admin_call(sluice, "GET", "/routes/explain?host=a&path=/").status, 200);

  SluiceInstance open(fleet_config(fleet, "round_robin", "", "",
                                   "{listen: 0.0.0.0:0, token_file: " + token_file + "}"));
  ASSERT_TRUE(open.ready()) << open.process().output();
  EXPECT_EQ(admin_call(open, "GET", "/config").status, 401);
  EXPECT_EQ(admin_call(open, "GET", "/routes/explain?host=a&path=/").status, 401);
  const HttpResponse with_token = admin_call(
      open, "GET", "/config", "", std::string("Authorization: Bearer ") + kToken + "\r\n");
  EXPECT_EQ(with_token.status, 200);
  EXPECT_EQ(with_token.body.find(kToken), std::string::npos)
      << "the token's file is named, never read out";
}

// ---- GET /config -----------------------------------------------------------

std::string config_header(std::uint64_t generation, const std::string& origin) {
  return "# sluice: the configuration in force\n# generation: " + std::to_string(generation) +
         "\n# origin: " + origin + "\n# applied_at: ";
}

// The body of GET /config without its applied_at line.
std::string without_time(const std::string& body) {
  const auto at = body.find("# applied_at: ");
  if (at == std::string::npos) return body;
  const auto eol = body.find('\n', at);
  return body.substr(0, at + 14) + body.substr(eol + 1);
}

std::string greeting(const std::string& body, const std::string& extra = "") {
  return "workers: 1\nadmin: {listen: 127.0.0.1:0}\nlisteners:\n  - name: web\n"
         "    listen: 127.0.0.1:0\nroutes:\n  - name: hello\n    respond: {status: 200, body: " +
         body + "}\n" + extra;
}

TEST(ConfigInForce, ShowsTheTextAppliedByTheFilePostConfigAndSighup) {
  SluiceInstance sluice(greeting("v1", "# the first\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  HttpResponse r = admin_call(sluice, "GET", "/config");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/yaml");
  EXPECT_EQ(without_time(r.body),
            config_header(1, sluice.config_path()) + greeting("v1", "# the first\n"));

  const std::string posted = greeting("v2", "# posted\n");
  ASSERT_EQ(
      admin_call(sluice, "POST", "/config", posted, "Content-Type: application/yaml\r\n").status,
      200);
  r = admin_call(sluice, "GET", "/config");
  EXPECT_EQ(without_time(r.body), config_header(2, "POST /config") + posted);
  // A refused configuration changes nothing.
  ASSERT_EQ(admin_call(sluice, "POST", "/config", "listeners: [", "").status, 400);
  EXPECT_EQ(without_time(admin_call(sluice, "GET", "/config").body),
            config_header(2, "POST /config") + posted);

  ASSERT_TRUE(reload_file(sluice, greeting("v3", "# by SIGHUP\n")));
  r = admin_call(sluice, "GET", "/config");
  EXPECT_EQ(without_time(r.body),
            config_header(3, sluice.config_path()) + greeting("v3", "# by SIGHUP\n"));
  const auto at = r.body.find("# applied_at: ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(r.body[at + 14 + 4], '-') << r.body;  // 2026-...
  EXPECT_EQ(r.body[at + 14 + 19], 'Z') << r.body;

  const HttpResponse json = admin_call(sluice, "GET", "/config?format=json");
  EXPECT_EQ(json.header("content-type"), "application/json");
  EXPECT_EQ(json.body.rfind("{\"generation\": 3, \"origin\": \"" + sluice.config_path() + "\"", 0),
            0u)
      << json.body;
  EXPECT_NE(json.body.find("\"redacted\": 0, \"text\": \"workers: 1\\nadmin:"), std::string::npos)
      << json.body;
  EXPECT_EQ(admin_call(sluice, "GET", "/config?format=xml").status, 400);
  const HttpResponse head = admin_call(sluice, "HEAD", "/config");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(r.body.size()));
}

TEST(ConfigInForce, InlineCredentialsAreRedacted) {
  const std::string yaml = greeting("v1",
                                    "middlewares:\n  upstream:\n    headers:\n      request:\n"
                                    "        set: {Authorization: \"Bearer inline-s3cret\"}\n");
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse r = admin_call(sluice, "GET", "/config");
  EXPECT_EQ(r.body.find("inline-s3cret"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("set: {Authorization: \"<redacted>\"}"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("# redacted: 1 inline credential value(s)"), std::string::npos);
}

// ---- GET /routes/explain ---------------------------------------------------

const char* kRoutes = R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
  - name: side
    listen: 127.0.0.1:0
routes:
  - {name: api, listeners: [web], match: {host: api.example.com, path: /v1/}, respond: {status: 200, body: api}}
  - {name: shop, listeners: [web], match: {host: "*.shop.example", path: /cart, methods: [POST]}, respond: {status: 200, body: shop}}
  - {name: canary, listeners: [web], match: {path: /f, headers: {X-Env: canary}}, respond: {status: 200, body: canary}}
  - {name: home, listeners: [web], match: {path_exact: /}, respond: {status: 200, body: home}}
  - {name: side-only, listeners: [side], match: {path: /s}, respond: {status: 200, body: side}}
)";

// The body the web listener answers `target` with for Host `host`.
std::string served(const SluiceInstance& s, const std::string& host, const std::string& target,
                   const std::string& fields = "", const std::string& listener = "web") {
  RawConnection c(s.port(listener));
  c.send("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + fields + "\r\n");
  auto r = c.read_response();
  if (!r) return "<no response>";
  return r->status == 200 ? r->body : "<" + std::to_string(r->status) + ">";
}

TEST(RouteExplain, SaysWhichRouteMatchesAndWhyTheOthersLost) {
  SluiceInstance sluice(kRoutes);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_EQ(served(sluice, "API.example.com:80", "/v1/../v1/users?id=1"), "api");
  const HttpResponse r =
      admin_call(sluice, "GET",
                 "/routes/explain?host=API.example.com:80&path=%2Fv1%2F..%2Fv1%2Fusers%3Fid%3D1");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_NE(r.body.find("\"request\": {\"listener\": \"web\", \"method\": \"GET\", \"host\": "
                        "\"API.example.com:80\", \"target\": \"/v1/../v1/users?id=1\", "
                        "\"routed_host\": \"api.example.com\", \"normalized_path\": \"/v1/users\", "
                        "\"query\": \"id=1\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find("\"matched\": true, \"status\": null,\n \"route\": {\"name\": \"api\", "
                  "\"rank\": 0, \"priority\": 0, \"host\": \"api.example.com\", "
                  "\"path_rule\": \"prefix\", \"path\": \"/v1/\", \"methods\": [], "
                  "\"headers\": [], \"query\": [], \"action\": \"respond\", \"status\": 200}"),
      std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find("\"considered\": 4,\n \"lost_on\": {\"host\": 1, \"path\": 2, "
                  "\"internal\": 0, \"method\": 0, \"header\": 0, \"query\": 0, \"rank\": 0}"),
      std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"lost_on\": [\"host: api.example.com is not a host under "
                        "*.shop.example\", \"path: /v1/users does not match prefix /cart\", "
                        "\"method: GET is not one of POST\"]"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"more_near_misses\": 0\n}"), std::string::npos) << r.body;
}

TEST(RouteExplain, AHostMismatchAFailedHeaderAndNoRouteAreExplained) {
  SluiceInstance sluice(kRoutes);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // The api route wants another host: nothing matches, and the client gets 404.
  ASSERT_EQ(served(sluice, "www.example.com", "/v1/users"), "<404>");
  HttpResponse r = admin_call(sluice, "GET", "/routes/explain?host=www.example.com&path=/v1/users");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"matched\": false, \"status\": 404, \"route\": null"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("\"near_misses\": [\n  {\"route\": {\"name\": \"api\""), std::string::npos)
      << "the route failing on its host alone comes first: " << r.body;
  EXPECT_NE(r.body.find("\"lost_on\": [\"host: www.example.com is not host api.example.com\"]"),
            std::string::npos)
      << r.body;

  // A header condition, through h.NAME.
  ASSERT_EQ(served(sluice, "t", "/f", "X-Env: canary\r\n"), "canary");
  r = admin_call(sluice, "GET", "/routes/explain?host=t&path=/f&h.X-Env=canary");
  EXPECT_NE(r.body.find("\"route\": {\"name\": \"canary\""), std::string::npos) << r.body;
  r = admin_call(sluice, "GET", "/routes/explain?host=t&path=/f&h.X-Env=prod");
  EXPECT_NE(r.body.find("\"status\": 404"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"lost_on\": [\"header: no X-Env field equal to canary\"]"),
            std::string::npos)
      << r.body;

  // Another listener, by name.
  r = admin_call(sluice, "GET", "/routes/explain?host=t&path=/s&listener=side");
  EXPECT_NE(r.body.find("\"route\": {\"name\": \"side-only\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"considered\": 1,"), std::string::npos) << r.body;
}

TEST(RouteExplain, APathTheProxyRefusesIsExplainedAsIts400) {
  SluiceInstance sluice(kRoutes);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_EQ(served(sluice, "t", "/a/..%2Fb"), "<400>");
  const HttpResponse r = admin_call(sluice, "GET", "/routes/explain?host=t&path=/a/..%252Fb");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"matched\": false, \"status\": 400, \"refused\": "), std::string::npos)
      << r.body;
}

TEST(RouteExplain, BadQueriesAre400AndEchoNothingRaw) {
  SluiceInstance sluice(kRoutes);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (const std::string& query : std::vector<std::string>{
           "", "?host=t", "?path=/", "?host=t&path=/&listener=nope", "?host=t&path=/&x=1",
           "?host=t%0d%0aSet-Cookie:%20a&path=/", "?host=t&path=/%00", "?host=t&path=/%zz",
           "?host=t&path=/&limit=1000", "?host=t&path=/&h.Bad%20Name=1"}) {
    SCOPED_TRACE(query);
    const HttpResponse r = admin_call(sluice, "GET", "/routes/explain" + query);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_FALSE(r.header("set-cookie").has_value());
    for (const char c : r.body)
      EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int(c);
  }
  const HttpResponse unknown =
      admin_call(sluice, "GET", "/routes/explain?host=t&path=/&listener=nope");
  EXPECT_EQ(unknown.body.rfind("no HTTP listener 'nope'; HTTP listeners: web, side\n", 0), 0u)
      << unknown.body;
  EXPECT_EQ(served(sluice, "t", "/"), "home") << "still serving";
}

TEST(RouteExplain, FiveThousandRoutesGiveABoundedAnswer) {
  std::string yaml =
      "workers: 1\nadmin: {listen: 127.0.0.1:0}\nlisteners:\n  - name: web\n"
      "    listen: 127.0.0.1:0\nroutes:\n";
  for (int i = 0; i < 5000; ++i) {
    const std::string n = std::to_string(i);
    yaml += "  - {name: r" + n + ", match: {host: h" + n + ".example.com, path: /p" + n +
            "}, respond: {status: 200, body: r" + n + "}}\n";
  }
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_EQ(served(sluice, "h4321.example.com", "/p4321"), "r4321");
  HttpResponse r = admin_call(sluice, "GET", "/routes/explain?host=h4321.example.com&path=/p4321");
  EXPECT_NE(r.body.find("\"route\": {\"name\": \"r4321\""), std::string::npos)
      << r.body.substr(0, 2000);
  EXPECT_NE(r.body.find("\"considered\": 5000,"), std::string::npos);
  EXPECT_NE(r.body.find("\"more_near_misses\": 4979\n}"), std::string::npos);
  EXPECT_LT(r.body.size(), 20'000u);
  // No route: still at most the limit asked for.
  r = admin_call(sluice, "GET", "/routes/explain?host=nowhere&path=/p1&limit=3");
  EXPECT_NE(r.body.find("\"status\": 404"), std::string::npos);
  EXPECT_NE(r.body.find("\"more_near_misses\": 4997\n}"), std::string::npos);
  EXPECT_NE(r.body.find("{\"route\": {\"name\": \"r1\""), std::string::npos)
      << "r1 fails on its host only: the nearest miss";
}

}  // namespace
}  // namespace sluice::test
