// Middlewares in combination with each other and with the rest of the
// proxy (issue 18): a chain of rate_limit, forward_auth, headers and
// compress on a route whose first server drops requests unanswered (so
// retries happen), with two workers, a reload in the middle and clients on
// HTTP/1.1 and HTTP/2. Whatever happens underneath, a request passes each
// middleware once: a retry neither asks the auth server again nor spends
// another token, and a reload that leaves the definitions alone keeps the
// budget spent.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>

#include "sluice_instance.h"
#include "support/h2_frames.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

const std::string kPage = [] {
  std::string page = "<!doctype html><title>combined</title>\n";
  while (page.size() < 4096)
    page += "<p>the same paragraph compresses well, again and again</p>\n";
  return page;
}();

// The auth server: 200 with X-User for requests carrying "X-Pass: yes",
// 401 otherwise.
TestBackend::Script auth_server() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const bool pass = r.header("x-pass") == "yes";
      const std::string answer = pass ? make_response(200, "", {"X-User: alice"})
                                      : make_response(401, "no\n", {"WWW-Authenticate: Bearer"});
      if (!c.send(answer)) return;
    }
  };
}

// Reads each request, then closes without answering: every request it gets
// must be retried on the other server.
TestBackend::Script drops_everything() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    (void)c.read_request(r);
  };
}

TestBackend::Script serves_pages() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const std::string seen = r.header("x-user") + " " + r.header("x-chain");
      if (!c.send(make_response(200, kPage, {"Content-Type: text/html", "X-Seen: " + seen}))) {
        return;
      }
    }
  };
}

constexpr int kBudget = 20;

std::string config(const TestBackend& auth, const TestBackend& bad, const TestBackend& good) {
  return "workers: 2\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "middlewares:\n"
         "  limit: {rate_limit: {average: " +
         std::to_string(kBudget) + ", period: 1h, burst: " + std::to_string(kBudget) +
         "}}\n"
         "  auth: {forward_auth: {address: 'http://" +
         auth.address() +
         "/check', copy_headers: [X-User]}}\n"
         "  tag: {headers: {request: {set: {X-Chain: '${route}'}}}}\n"
         "  gz: {compress: {}}\n"
         "routes:\n"
         "  - name: app\n"
         "    backend: app\n"
         "    middlewares: [limit, auth, tag, gz]\n"
         "backends:\n"
         "  app:\n"
         "    servers: [" +
         bad.address() + ", " + good.address() +
         "]\n"
         "    retries: {attempts: 2, budget: 100}\n";
}

std::string request(const std::string& path) {
  return "GET " + path +
         " HTTP/1.1\r\nHost: t\r\nX-Pass: yes\r\nAccept-Encoding: gzip\r\n"
         "X-User: mallory\r\n\r\n";
}

TEST(MiddlewareCombination, EachRequestPassesTheChainOnceThroughRetriesReloadsAndProtocols) {
  TestBackend auth(auth_server());
  TestBackend bad(drops_everything());
  TestBackend good(serves_pages());
  SluiceInstance sluice(config(auth, bad, good));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");

  // Half the budget over one HTTP/1.1 connection, then a reload with the
  // same definitions, then the rest of it over HTTP/2.
  RawConnection client(port);
  for (int i = 0; i < kBudget / 2; ++i) {
    ASSERT_TRUE(client.send(request("/h1/" + std::to_string(i))));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << sluice.process().output();
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("content-encoding").value_or(""), "gzip");
    ASSERT_GE(r->body.size(), 2u);
    EXPECT_EQ(static_cast<unsigned char>(r->body[0]), 0x1f);  // gzip's magic bytes
    EXPECT_EQ(static_cast<unsigned char>(r->body[1]), 0x8b);
    // The auth server's X-User replaced the client's; headers tagged it.
    EXPECT_EQ(r->header("x-seen").value_or(""), "alice app");
  }
  {
    std::ofstream out(sluice.config_path(), std::ios::trunc);
    out << config(auth, bad, good);
  }
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied")) << sluice.process().output();

  h2::H2Connection h2client(port);
  ASSERT_TRUE(h2client.handshake());
  for (int i = kBudget / 2; i < kBudget; ++i) {
    const h2::StreamResult r = h2client.request(h2::request_fields(
        "GET", "t", "/h2/" + std::to_string(i),
        {{"x-pass", "yes"}, {"accept-encoding", "gzip"}, {"x-user", "mallory"}}));
    ASSERT_EQ(r.status(), 200) << sluice.process().output();
    EXPECT_EQ(r.field("content-encoding"), "gzip");
    EXPECT_EQ(r.field("x-seen"), "alice app");
  }

  // The budget is spent, whichever protocol asks, and nothing more reaches
  // the auth server or the backends.
  ASSERT_TRUE(client.send(request("/over")));
  const auto over = client.read_response();
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429);
  EXPECT_TRUE(over->header("retry-after"));
  EXPECT_EQ(
      h2client.request(h2::request_fields("GET", "t", "/over-h2", {{"x-pass", "yes"}})).status(),
      429);

  // Each request was asked of the auth server once, retries or not.
  EXPECT_EQ(auth.requests().size(), static_cast<std::size_t>(kBudget));
  EXPECT_EQ(good.requests().size(), static_cast<std::size_t>(kBudget));
  EXPECT_GT(bad.requests().size(), 0u) << "no request was retried: the test proves nothing";
  EXPECT_TRUE(sluice.process().running());
}

// A denial in the middle of pipelined requests: each gets its own answer,
// in order, on the same connection (a middleware's answer to a request
// without a body keeps the connection).
TEST(MiddlewareCombination, ADenialAmongPipelinedRequestsKeepsTheConnectionAndTheOrder) {
  TestBackend auth(auth_server());
  TestBackend bad(serves_pages());
  TestBackend good(serves_pages());
  SluiceInstance sluice(config(auth, bad, good));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(request("/1") + "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n" + request("/3") +
                          "HEAD /4 HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto first = client.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  const auto second = client.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 401);
  EXPECT_EQ(second->header("www-authenticate").value_or(""), "Bearer");
  EXPECT_EQ(second->body, "no\n");
  const auto third = client.read_response();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
  // A denied HEAD gets the denial's head and no body.
  const auto fourth = client.read_response(true);
  ASSERT_TRUE(fourth);
  EXPECT_EQ(fourth->status, 401);
  EXPECT_TRUE(fourth->body.empty());
  ASSERT_TRUE(client.send(request("/5")));
  const auto fifth = client.read_response();
  ASSERT_TRUE(fifth);
  EXPECT_EQ(fifth->status, 200);
}

}  // namespace
}  // namespace sluice::test
