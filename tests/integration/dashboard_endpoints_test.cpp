// The admin endpoints the dashboard reads (issue 19), from a running
// sluice: GET /status (generation, last reload, listeners, counts) and
// GET /routes (searched and paged on the server among 5,000 routes), and
// the page itself under its Content-Security-Policy. The page in a real
// browser: tests/browser/dashboard_test.py.
#include <gtest/gtest.h>

#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"

namespace sluice::test {
namespace {

std::string many_routes_config(int routes) {
  std::string yaml = R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
  - name: other
    listen: 127.0.0.1:0
routes:
)";
  for (int i = 0; i < routes; ++i) {
    const std::string n = std::to_string(i);
    yaml += "  - name: r" + n + "\n    match: {host: h" + n + ".example.com, path: /p" + n +
            "/}\n    backend: app\n";
  }
  yaml += R"(  - name: teapot
    listeners: [other]
    match: {path_exact: /tea, methods: [GET]}
    respond: {status: 418}
backends:
  app:
    servers: [127.0.0.1:9, 127.0.0.1:10]
)";
  return yaml;
}

HttpResponse admin_call(const SluiceInstance& s, const std::string& method, const std::string& path,
                        const std::string& body = {}) {
  RawConnection c(s.port("admin"));
  std::string request = method + " " + path +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port("admin")) + "\r\n";
  if (method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  c.send(request + "\r\n" + body);
  auto r = c.read_response(false, 60'000);
  return r ? *r : HttpResponse{};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(DashboardEndpoints, StatusShowsGenerationListenersCountsAndTheLastReload) {
  SluiceInstance sluice(many_routes_config(3));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const HttpResponse first = admin_call(sluice, "GET", "/status");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("content-type").value_or(""), "application/json");
  EXPECT_TRUE(has(first.body, "\"generation\": 1,")) << first.body;
  EXPECT_TRUE(has(first.body, "\"last_reload\": null")) << first.body;
  EXPECT_TRUE(has(first.body, "\"routes\": 4,")) << first.body;
  EXPECT_TRUE(has(first.body, "\"backends\": 1,")) << first.body;
  EXPECT_TRUE(has(first.body, "\"servers\": 2,")) << first.body;
  EXPECT_TRUE(has(first.body,
                  "\"name\": \"web\", \"listen\": \"127.0.0.1:0\", \"protocol\": "
                  "\"http\", \"tls\": false, \"h2\": true"))
      << first.body;
  EXPECT_TRUE(has(first.body, "\"name\": \"other\"")) << first.body;
  EXPECT_TRUE(has(first.body, "\"version\": \"")) << first.body;

  // A refused reload: the generation stays, the outcome and its errors show.
  ASSERT_EQ(admin_call(sluice, "POST", "/config", "listeners: [{name: web}]\n").status, 400);
  const HttpResponse refused = admin_call(sluice, "GET", "/status");
  EXPECT_TRUE(has(refused.body, "\"generation\": 1,")) << refused.body;
  EXPECT_TRUE(has(refused.body, "\"result\": \"refused\", \"origin\": \"POST /config\""))
      << refused.body;
  EXPECT_TRUE(has(refused.body, "error")) << refused.body;

  ASSERT_EQ(admin_call(sluice, "POST", "/config", many_routes_config(5)).status, 200);
  const HttpResponse applied = admin_call(sluice, "GET", "/status");
  EXPECT_TRUE(has(applied.body, "\"generation\": 2,")) << applied.body;
  EXPECT_TRUE(has(applied.body, "\"result\": \"applied\"")) << applied.body;
  EXPECT_TRUE(has(applied.body, "\"messages\": []")) << applied.body;
  EXPECT_TRUE(has(applied.body, "\"routes\": 6,")) << applied.body;
}

TEST(DashboardEndpoints, RoutesAreSearchedAndPagedOnTheServerAmong5000) {
  SluiceInstance sluice(many_routes_config(5000));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  const HttpResponse one = admin_call(sluice, "GET", "/routes?search=H4217.example");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_TRUE(has(one.body, "\"total\": 5001, \"matched\": 1, \"offset\": 0")) << one.body;
  EXPECT_TRUE(has(one.body,
                  "{\"name\": \"r4217\", \"listeners\": [\"web\", \"other\"], "
                  "\"priority\": 0, \"host\": \"h4217.example.com\", \"path_kind\": "
                  "\"prefix\", \"path\": \"/p4217/\", \"methods\": [], \"action\": "
                  "\"backend\", \"backend\": \"app\"}"))
      << one.body;

  // Every word must match, in any of name, host, path and backend.
  const HttpResponse words = admin_call(sluice, "GET", "/routes?search=tea+GET");
  EXPECT_TRUE(has(words.body, "\"matched\": 0")) << words.body;
  const HttpResponse teapot = admin_call(sluice, "GET", "/routes?search=%2Ftea%20teapot");
  EXPECT_TRUE(has(teapot.body, "\"matched\": 1")) << teapot.body;
  EXPECT_TRUE(has(teapot.body, "\"listeners\": [\"other\"]")) << teapot.body;
  EXPECT_TRUE(has(teapot.body,
                  "\"path_kind\": \"exact\", \"path\": \"/tea\", \"methods\": "
                  "[\"GET\"], \"action\": \"respond\", \"status\": 418"))
      << teapot.body;

  // Pages in configuration order: r20..r29, then what follows.
  const HttpResponse page = admin_call(sluice, "GET", "/routes?offset=20&limit=10");
  EXPECT_TRUE(has(page.body, "\"total\": 5001, \"matched\": 5001, \"offset\": 20")) << page.body;
  EXPECT_TRUE(has(page.body, "[\n  {\"name\": \"r20\"")) << page.body;
  EXPECT_TRUE(has(page.body, "{\"name\": \"r29\"")) << page.body;
  EXPECT_FALSE(has(page.body, "\"r30\"")) << page.body;
  const HttpResponse past = admin_call(sluice, "GET", "/routes?offset=9999");
  EXPECT_TRUE(has(past.body, "\"routes\": [\n]")) << past.body;
  const HttpResponse all = admin_call(sluice, "GET", "/routes");
  EXPECT_TRUE(has(all.body, "\"r99\"") && !has(all.body, "\"r100\"")) << "100 by default";

  EXPECT_EQ(admin_call(sluice, "GET", "/routes?limit=0").status, 400);
  EXPECT_EQ(admin_call(sluice, "GET", "/routes?search=%zz").status, 400);
}

TEST(DashboardEndpoints, ThePageAndItsFilesAreServedUnderAPolicyAllowingOnlyThisOrigin) {
  SluiceInstance sluice(many_routes_config(1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (const std::string path : {"/", "/dashboard"}) {
    const HttpResponse page = admin_call(sluice, "GET", path);
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.header("content-type").value_or(""), "text/html; charset=utf-8");
    EXPECT_TRUE(has(page.header("content-security-policy").value_or(""), "default-src 'self'"));
    EXPECT_TRUE(has(page.body, "<script src=\"/dashboard/dashboard.js\""));
  }
  const HttpResponse script = admin_call(sluice, "GET", "/dashboard/dashboard.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.header("content-type").value_or(""), "text/javascript; charset=utf-8");
  EXPECT_TRUE(has(script.body, "/backends/"));
  EXPECT_EQ(admin_call(sluice, "GET", "/dashboard/missing.js").status, 404);
  EXPECT_EQ(admin_call(sluice, "POST", "/dashboard").status, 405);
}

}  // namespace
}  // namespace sluice::test
