// Issue 13, item 2: what is routed is what is forwarded. A deny route on
// /admin in front of a backend that matches prefixes without resolving dot
// segments (an Express app.use('/admin'), a Flask <path:> route) must not
// be reachable by another spelling: each request is denied (403), refused
// (400), or forwarded with exactly the normal-form path it was routed by.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::string guarded_config(const std::string& server, const std::string& listener_extra = "") {
  return R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
)" + listener_extra +
         R"(routes:
  - name: admin
    match: {path: /admin}
    respond: {status: 403, body: "forbidden\n"}
  - name: legacy
    match: {path: /legacy}
    rewrite: {strip_prefix: /legacy}
    backend: app
  - name: moved
    match: {path: /old/}
    redirect: {status: 308, scheme: https}
  - name: rest
    match: {path: /}
    backend: app
backends:
  app:
    servers: [{address: )" +
         server + "}]\n";
}

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: example.test\r\n\r\n";
}

// The request and what the client sees: a status, and for 200 the target
// the backend received.
struct Case {
  std::string target;
  int status;
  std::string forwarded;  // for 200
};

// True when a backend that resolves dot segments or treats '\' or ";x" as
// Tomcat does could reach something other than what was routed.
bool looks_like_a_bypass(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  return path.starts_with("/admin") || path.find("/..") != std::string::npos ||
         path.find("/./") != std::string::npos || path.ends_with("/.") ||
         path.find('\\') != std::string::npos || path.find("%2E") != std::string::npos ||
         path.find("%2e") != std::string::npos;
}

class PathBypass : public ::testing::Test {
 protected:
  PathBypass() : backend_(TestBackend::echo()), sluice_(guarded_config(backend_.address())) {}
  void SetUp() override { ASSERT_TRUE(sluice_.ready()) << sluice_.process().output(); }

  // Sends each case on a connection of its own (a 400 closes it).
  void expect_cases(const std::vector<Case>& cases, std::uint16_t port) {
    for (const auto& c : cases) {
      const std::size_t seen = backend_.requests().size();
      RawConnection client(port);
      ASSERT_TRUE(client.send(get(c.target))) << c.target;
      auto r = client.read_response();
      ASSERT_TRUE(r) << c.target << "\n" << sluice_.process().output();
      EXPECT_EQ(r->status, c.status) << c.target;
      if (c.status != 200) {
        EXPECT_EQ(backend_.requests().size(), seen) << c.target << " reached the backend";
        continue;
      }
      ASSERT_EQ(backend_.requests().size(), seen + 1) << c.target;
      EXPECT_EQ(backend_.requests().back().target, c.forwarded) << c.target;
    }
    for (const auto& seen : backend_.requests()) {
      EXPECT_FALSE(looks_like_a_bypass(seen.target)) << seen.target;
    }
  }

  TestBackend backend_;
  SluiceInstance sluice_;
};

TEST_F(PathBypass, EverySpellingIsDeniedRefusedOrForwardedExactlyAsRouted) {
  expect_cases(
      {
          {"/admin/..", 200, "/"},
          {"/admin/%2e%2e", 200, "/"},
          {"/admin/%2E%2E/", 200, "/"},
          {"/admin/..?a=%61", 200, "/?a=%61"},  // the query goes on as received
          {"/admin/../x", 200, "/x"},
          {"/admin/..;/x", 400, ""},  // Tomcat would serve /x from /admin/..;/x
          {"/x/..;/admin", 400, ""},  // ...and /admin from this one
          {"/x/.;/admin", 400, ""},
          {"/admin;/x", 403, ""},  // ';' is ordinary: under /admin
          {"/%61dmin", 403, ""},
          {"/ADMIN", 200, "/ADMIN"},  // case-sensitive, and forwarded as routed
          {"/admin%2Fx", 400, ""},
          {"/x/..%2Fadmin", 400, ""},
          {"/admin%5Cx", 400, ""},
          {"/x/..%5cadmin", 400, ""},
          {"/admin\\x", 400, ""},
          {"/x\\..\\admin", 400, ""},
          {"//admin", 403, ""},
          {"/./admin", 403, ""},
          {"/x/%2e%2e/admin", 403, ""},
          {"/a/../../admin", 400, ""},  // climbs above the root
          {"/%2e%2e/admin", 400, ""},
          {"/admin%00", 400, ""},
          {"/x%00/../admin", 400, ""},
          {"/public//%7Euser/./docs/../a%3bb?q=%61", 200, "/public/~user/a%3Bb?q=%61"},
      },
      sluice_.port("web"));
}

// RFC 9112 §3.2.2: an absolute-form target is routed by its path, and the
// backend gets that path in origin form.
TEST_F(PathBypass, AbsoluteFormTargetsFollowTheSameRule) {
  expect_cases(
      {
          {"http://example.test/admin/..", 200, "/"},
          {"http://example.test/admin/%2e%2e?q=1", 200, "/?q=1"},
          {"http://example.test?x=1", 200, "/?x=1"},  // no path: the root, query kept
          {"http://example.test//%61dmin", 403, ""},
          {"http://example.test/x/..;/admin", 400, ""},
          {"http://example.test/admin%2Fx", 400, ""},
      },
      sluice_.port("web"));
}

// A stripped prefix can end mid-segment: "/legacy" off "/legacy../admin"
// leaves "/../admin", which the backend would resolve to /admin.
TEST_F(PathBypass, RewriteNeverForwardsADotSegment) {
  expect_cases(
      {
          {"/legacy../admin", 400, ""},
          {"/legacy..", 400, ""},
          {"/legacy/a/./b/../c", 200, "/a/c"},
          {"/legacy/%61", 200, "/a"},
      },
      sluice_.port("web"));
}

TEST_F(PathBypass, KeepAliveRequestsEachForwardTheirOwnNormalForm) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/admin/..?a=1") + get("/ADMIN") + get("/x/./y") + get("/z")));
  for (int i = 0; i < 4; ++i) {
    auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  const auto seen = backend_.requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].target, "/?a=1");
  EXPECT_EQ(seen[1].target, "/ADMIN");
  EXPECT_EQ(seen[2].target, "/x/y");
  EXPECT_EQ(seen[3].target, "/z");
}

TEST_F(PathBypass, RefusalSaysWhyInTheBodyAndTheLog) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/x/..;/admin")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("'..;'"), std::string::npos) << r->body;
  EXPECT_TRUE(sluice_.process().wait_for_line("400 Bad Request (dot segment with parameters",
                                              std::chrono::seconds(5)))
      << sluice_.process().output();
}

// The Location of a redirect is built from the normal form (a guard: this
// held before issue 13 too).
TEST_F(PathBypass, RedirectLocationCarriesTheNormalPath) {
  RawConnection client(sluice_.port("web"));
  ASSERT_TRUE(client.send(get("/old//a/./b/../c?x=1")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 308);
  EXPECT_EQ(r->header("location").value_or(""), "https://example.test/old/a/c?x=1");
}

TEST(PathBypassKeep, EscapedSlashesAreForwardedEncodedAndNeverSeparate) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(guarded_config(backend.address(), "    escaped_slashes: keep\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::vector<Case> cases = {
      {"/files/a%2fb", 200, "/files/a%2Fb"},
      {"/files/a%5cb", 200, "/files/a%5Cb"},
      {"/admin%2Fx", 403, ""},        // still under the /admin prefix
      {"/x/..%2F", 200, "/x/..%2F"},  // one segment "..%2F": not a dot segment
      {"/files/a\\b", 400, ""},       // a raw backslash still is refused
  };
  for (const auto& c : cases) {
    const std::size_t seen = backend.requests().size();
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(client.send(get(c.target))) << c.target;
    auto r = client.read_response();
    ASSERT_TRUE(r) << c.target;
    EXPECT_EQ(r->status, c.status) << c.target;
    if (c.status == 200) {
      ASSERT_EQ(backend.requests().size(), seen + 1) << c.target;
      EXPECT_EQ(backend.requests().back().target, c.forwarded) << c.target;
    }
  }
}

}  // namespace
}  // namespace sluice::test
