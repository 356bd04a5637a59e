// Routing end to end: regex routes with rewrites, normalised paths,
// prefix and host rewrites, redirects, and the 5,000-route example.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::string router_config(const std::string& server) {
  return R"(workers: 2
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: users
    priority: 1
    match: {path_regex: "^/app/users/([0-9]{4})$"}
    rewrite: {path: /users/$1}
    backend: app
  - name: shop
    priority: 1
    match: {path_regex: "^/shop/(?P<item>[a-z]+)$"}
    rewrite: {path: "/items?name=${item}"}
    backend: app
  - name: raw
    priority: 1
    match: {path_regex: "^/raw/(.*)$"}
    rewrite: {path: "/$1"}
    backend: app
  - name: admin
    match: {path: /admin}
    respond: {status: 403, body: "forbidden\n"}
  - name: api
    match: {path: /api/}
    rewrite: {strip_prefix: /api, add_prefix: /v1, host: internal.svc}
    backend: app
  - name: moved
    match: {path: /old/}
    redirect: {status: 308, scheme: https, port: 8443}
  - name: blog
    priority: 1
    match: {path_regex: "^/blog/([0-9]+)$"}
    redirect: {status: 301, path: "/posts/$1", keep_query: false}
  - name: rest
    match: {path: /}
    backend: app
backends:
  app:
    servers: [{address: )" +
         server + "}]\n";
}

class Router : public ::testing::Test {
 protected:
  Router() : backend_(TestBackend::echo()), sluice_(router_config(backend_.address())) {}
  void SetUp() override { ASSERT_TRUE(sluice_.ready()) << sluice_.process().output(); }
  std::string get(const std::string& target, const std::string& host = "example.test:8080") {
    return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  }
  TestBackend backend_;
  SluiceInstance sluice_;
};

TEST_F(Router, RegexRouteRewritesAndReusesOneBackendConnection) {
  RawConnection client(sluice_.port("web"));
  for (int i = 0; i < 100; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "%04d", (i * 37) % 10000);
    ASSERT_TRUE(client.send(get(std::string("/app/users/") + id)));
    auto r = client.read_response();
    ASSERT_TRUE(r) << i << "\n" << sluice_.process().output();
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-target").value_or(""), std::string("/users/") + id);
  }
  const auto seen = backend_.requests();
  ASSERT_EQ(seen.size(), 100u);
  for (const auto& s : seen)
    EXPECT_TRUE(std::regex_match(s.target, std::regex("/users/[0-9]{4}"))) << s.target;
  EXPECT_EQ(backend_.accepted(), 1);
}

TEST_F(Router, NamedCapturesAndTheRequestQueryBothReachTheBackend) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/shop/shirt?color=red")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-target").value_or(""), "/items?name=shirt&color=red");
}

TEST_F(Router, ProtectedPathCannotBeReachedByAnotherSpelling) {
  RawConnection client(sluice_.port("web"));
  for (const char* spelling :
       {"/admin", "/%61dmin", "/x/../admin", "//admin", "/./admin/", "/x/%2e%2e/admin/users"}) {
    ASSERT_TRUE(client.send(get(spelling)));
    auto r = client.read_response();
    ASSERT_TRUE(r) << spelling;
    EXPECT_EQ(r->status, 403) << spelling;
  }
  EXPECT_TRUE(backend_.requests().empty());
}

TEST_F(Router, BackendReceivesThePathInNormalForm) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/public//%7Euser/./docs/../a%3bb?q=%61")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-target").value_or(""), "/public/~user/a%3Bb?q=%61");
}

TEST_F(Router, MalformedEscapeGets400) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/a%zz")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(Router, PrefixAndHostRewrites) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/api/users?page=2", "Shop.Example.test")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-target").value_or(""), "/v1/users?page=2");
  const auto seen = backend_.requests().at(0);
  EXPECT_EQ(seen.header("host"), "internal.svc");
  EXPECT_EQ(seen.header("x-forwarded-host"), "Shop.Example.test");
}

TEST_F(Router, RewriteThatWouldGiveAnInvalidTargetGets400) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/raw/a<b>")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(backend_.requests().empty());
  EXPECT_TRUE(sluice_.process().wait_for_line("invalid request target", std::chrono::seconds(5)));
}

TEST_F(Router, RedirectsKeepTheQueryUnlessToldAndTheConnectionStays) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/old/page?x=1")));
  auto moved = client.read_response();
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->status, 308);
  EXPECT_EQ(moved->header("location").value_or(""), "https://example.test:8443/old/page?x=1");
  EXPECT_EQ(moved->header("content-length").value_or(""), "0");
  ASSERT_TRUE(client.send(get("/blog/42?utm=1")));
  auto blog = client.read_response();
  ASSERT_TRUE(blog);
  EXPECT_EQ(blog->status, 301) << blog->raw_head << "\nleftover: " << client.leftover();
  EXPECT_EQ(blog->header("location").value_or(""), "http://example.test:8080/posts/42");
  EXPECT_TRUE(backend_.requests().empty());
}

TEST(ManyRoutes, CheckSucceedsOnTheFiveThousandRouteExampleAndPrintsItsSummary) {
  auto r =
      run_command({sluice_binary(), "check", "-c", source_dir() + "/examples/many-routes.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(
      std::regex_search(r.output, std::regex(R"(ok \(1 listener, 4800 routes, 800 backends)")))
      << r.output;
}

TEST(ManyRoutes, TheExampleIsWhatItsGeneratorWrites) {
  TempDir dir;
  const std::string out = (dir.path() / "many.yaml").string();
  auto r = run_command({"python3", source_dir() + "/examples/gen_many_routes.py", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto diff = run_command({"cmp", out, source_dir() + "/examples/many-routes.yaml"});
  EXPECT_EQ(diff.exit_code, 0) << "regenerate: python3 examples/gen_many_routes.py "
                                  "examples/many-routes.yaml\n"
                               << diff.output;
}

}  // namespace
}  // namespace sluice::test
