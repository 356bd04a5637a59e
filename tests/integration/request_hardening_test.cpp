// Issue 13, items 9-16: what a hostile or sloppy request head can make the
// proxy forward. The real sluice between raw clients and scripted backends:
// every case asserts what the client gets and what the backend received.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Listener 'web' (and `more_listeners`); host a.example is answered by
// sluice itself, old.example redirects, backend.example and every other
// valid host go to the backend.
std::string hardening_config(const std::string& server, const std::string& more_listeners = "") {
  return R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
)" + more_listeners +
         R"(routes:
  - name: site-a
    match: {host: a.example}
    respond: {status: 200, body: "site a\n"}
  - name: moved
    match: {host: old.example}
    redirect: {status: 301, scheme: https}
  - name: rest
    backend: app
backends:
  app:
    servers: [{address: )" +
         server + "}]\n";
}

// Sends `request` on a new connection to `listener` and reads the answer.
std::optional<HttpResponse> exchange_with(SluiceInstance& sluice, const std::string& request,
                                          const std::string& listener = "web") {
  RawConnection c(sluice.port(listener));
  if (!c.send(request)) return std::nullopt;
  return c.read_response(false, 5000);
}

class RequestHardening : public ::testing::Test {
 protected:
  RequestHardening()
      : backend_(TestBackend::echo()), sluice_(hardening_config(backend_.address())) {}
  void SetUp() override { ASSERT_TRUE(sluice_.ready()) << sluice_.process().output(); }

  std::optional<HttpResponse> exchange(const std::string& request) {
    return exchange_with(sluice_, request);
  }

  TestBackend backend_;
  SluiceInstance sluice_;
};

// ---------------------------------------------------------------- item 9: Host

TEST_F(RequestHardening, InvalidHostIs400AndNothingReachesTheBackend) {
  // RFC 9110 §7.2 / RFC 3986 §3.2: Host is uri-host [":" port].
  const std::vector<std::string> heads = {
      "GET / HTTP/1.1\r\nHost: evil.com/x?\r\n\r\n",                   // path and query characters
      "GET / HTTP/1.1\r\nHost: evil.com?x\r\n\r\n",                    // query
      "GET / HTTP/1.1\r\nHost: evil.com#frag\r\n\r\n",                 // fragment
      "GET / HTTP/1.1\r\nHost: user@evil.com\r\n\r\n",                 // userinfo
      "GET / HTTP/1.1\r\nHost: evil.com:80x\r\n\r\n",                  // port not digits
      "GET / HTTP/1.1\r\nHost: evil.com:99999\r\n\r\n",                // port out of range
      "GET / HTTP/1.1\r\nHost: evil.com:8080:1\r\n\r\n",               // two ports
      "GET / HTTP/1.1\r\nHost: :8080\r\n\r\n",                         // empty host with a port
      "GET / HTTP/1.1\r\nHost: evil .com\r\n\r\n",                     // space
      "GET / HTTP/1.1\r\nHost: evil\\com\r\n\r\n",                     // backslash
      "GET / HTTP/1.1\r\nHost: evil%zz.com\r\n\r\n",                   // malformed escape
      "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",                          // unclosed IP literal
      "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",                        // junk after an IP literal
      "GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n",                       // not an IPv6 address
      "GET / HTTP/1.1\r\nHost: \r\n\r\n",                              // empty, origin-form target
      "GET / HTTP/1.1\r\nHost:   \r\n\r\n",                            // white space only
      "GET / HTTP/1.1\r\n\r\n",                                        // missing (RFC 9112 §3.2)
      "GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n",  // two Host fields
      "GET / HTTP/1.0\r\nHost: evil.com/x\r\n\r\n",        // 1.0 may omit it, not break it
      "GET / HTTP/1.1\r\nHost: old.example/x?\r\n\r\n",    // would reach a redirect
      "GET / HTTP/1.1\r\nHost: old.example:1/x?\r\n\r\n",  // and be reflected by it
      "GET http://user@backend.example/ HTTP/1.1\r\nHost: x\r\n\r\n",      // userinfo in the target
      "GET http:///x HTTP/1.1\r\nHost: backend.example\r\n\r\n",           // empty authority
      "GET http://evil.com:x/ HTTP/1.1\r\nHost: backend.example\r\n\r\n",  // bad port
      "GET ftp://backend.example/ HTTP/1.1\r\nHost: backend.example\r\n\r\n",  // not http(s)
  };
  for (const auto& head : heads) {
    SCOPED_TRACE(head);
    auto r = exchange(head);
    ASSERT_TRUE(r) << sluice_.process().output();
    EXPECT_EQ(r->status, 400);
    EXPECT_FALSE(r->header("location")) << "an invalid Host must never be reflected";
  }
  EXPECT_EQ(backend_.accepted(), 0);
  EXPECT_TRUE(backend_.requests().empty());
}

TEST_F(RequestHardening, ValidHostsOfEveryFormAreForwarded) {
  const std::vector<std::string> hosts = {"backend.example:8080",  "[::1]:80",    "127.0.0.1",
                                          "xn--bcher-kva.example", "a_b.example", "[v1.x]"};
  for (const auto& host : hosts) {
    SCOPED_TRACE(host);
    auto r = exchange("GET /v HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
    ASSERT_TRUE(r) << sluice_.process().output();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-target").value_or(""), "/v");
  }
  const auto got = backend_.requests();
  ASSERT_EQ(got.size(), hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i)
    EXPECT_EQ(got[i].header("host"), hosts[i]);
  // HTTP/1.0 without Host still works (RFC 9112 §3.2 asks Host of 1.1 only).
  auto r = exchange("GET /old HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-target").value_or(""), "/old");
}

TEST_F(RequestHardening, HostWithUpperCaseAndTrailingDotRoutesToItsHostRoute) {
  for (const std::string host : {"a.example", "A.Example", "a.example.", "A.EXAMPLE.:8080"}) {
    SCOPED_TRACE(host);
    auto r = exchange("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
    ASSERT_TRUE(r) << sluice_.process().output();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "site a\n");
  }
  EXPECT_TRUE(backend_.requests().empty());
}

TEST_F(RequestHardening, AbsoluteFormAuthorityReplacesAnEmptyHost) {
  // RFC 9112 §3.2.2: the target's authority is the host; it is routed on,
  // and the backend gets it as Host with an origin-form target.
  auto r = exchange("GET http://backend.example:8080/x?y=1 HTTP/1.1\r\nHost: \r\n\r\n");
  ASSERT_TRUE(r) << sluice_.process().output();
  EXPECT_EQ(r->status, 200);
  const auto all = backend_.requests();
  ASSERT_EQ(all.size(), 1u);
  const auto& got = all[0];
  EXPECT_EQ(got.target, "/x?y=1");
  EXPECT_EQ(got.header("host"), "backend.example:8080");
  EXPECT_EQ(got.headers.count("host"), 1u);
  EXPECT_EQ(got.header("x-forwarded-host"), "backend.example:8080");
}

TEST_F(RequestHardening, AbsoluteFormAuthorityWinsOverTheHostField) {
  // Routed by the authority (a.example answers itself), not by Host.
  auto r = exchange("GET HTTP://A.EXAMPLE/ HTTP/1.1\r\nHost: backend.example\r\n\r\n");
  ASSERT_TRUE(r) << sluice_.process().output();
  EXPECT_EQ(r->body, "site a\n");
  // Forwarded with the authority as the only Host; a query without a path
  // gets the "/" that origin-form needs (RFC 9112 §3.2.1).
  r = exchange("GET http://other.example?q=/admin HTTP/1.1\r\nHost: backend.example\r\n\r\n");
  ASSERT_TRUE(r) << sluice_.process().output();
  EXPECT_EQ(r->status, 200);
  const auto got = backend_.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].target, "/?q=/admin");
  EXPECT_EQ(got[0].header("host"), "other.example");
  EXPECT_EQ(got[0].headers.count("host"), 1u);
}

// ---------------------------------------------------------------- item 10: underscores

TEST(RequestHardeningFields, FieldsWithUnderscoresAreDroppedUnlessTheListenerKeepsThem) {
  // CGI and WSGI map X_Forwarded_For and X-Forwarded-For to the same
  // HTTP_X_FORWARDED_FOR, so the client's would pass for ours.
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(hardening_config(
      backend.address(),
      "  - name: keep\n    listen: 127.0.0.1:0\n    keep_underscore_fields: true\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string request =
      "GET /u HTTP/1.1\r\nHost: backend.example\r\nX_Forwarded_For: 10.0.0.1\r\n"
      "X-Real: yes\r\n\r\n";
  auto r = exchange_with(sluice, request);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  r = exchange_with(sluice, request, "keep");
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  const auto got = backend.requests();
  ASSERT_EQ(got.size(), 2u);
  const auto& dropped = got[0];
  EXPECT_FALSE(dropped.has("x_forwarded_for"));
  EXPECT_EQ(dropped.header("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(dropped.header("x-real"), "yes");
  const auto& kept = got[1];
  EXPECT_EQ(kept.header("x_forwarded_for"), "10.0.0.1");
  EXPECT_EQ(kept.header("x-forwarded-for"), "127.0.0.1");
}

// ---------------------------------------------------------------- item 11: Content-Length 0

TEST_F(RequestHardening, EmptyBodiesOfContentMethodsAreForwardedWithContentLengthZero) {
  RawConnection c(sluice_.port("web"));
  // Pipelined: a backend that waits for a length must not take the second
  // request as the first one's body.
  ASSERT_TRUE(
      c.send("POST /a HTTP/1.1\r\nHost: backend.example\r\nContent-Length: 0\r\n\r\n"
             "PUT /b HTTP/1.1\r\nHost: backend.example\r\n\r\n"
             "DELETE /c HTTP/1.1\r\nHost: backend.example\r\nContent-Length: 0\r\n\r\n"
             "GET /d HTTP/1.1\r\nHost: backend.example\r\n\r\n"));
  for (const char* target : {"/a", "/b", "/c", "/d"}) {
    auto r = c.read_response(false, 5000);
    ASSERT_TRUE(r) << target << "\n" << sluice_.process().output();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-target").value_or(""), target);
  }
  const auto got = backend_.requests();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].header("content-length"), "0");  // POST with Content-Length: 0
  EXPECT_EQ(got[1].header("content-length"), "0");  // PUT without any length
  EXPECT_EQ(got[2].header("content-length"), "0");  // DELETE that said 0
  EXPECT_FALSE(got[3].has("content-length"));       // GET without a body says nothing
}

// ---------------------------------------------------------------- items 13, 15, 16: framing

// A backend that keeps every byte it is sent, so a test can show that
// nothing at all was forwarded, not even a head.
class RawRecorder {
 public:
  RawRecorder()
      : backend_([this](BackendConnection& c) {
          char buf[4096];
          while (true) {
            pollfd p{c.fd_for_tests(), POLLIN, 0};
            if (::poll(&p, 1, 10000) <= 0) break;
            const ssize_t n = ::recv(c.fd_for_tests(), buf, sizeof buf, 0);
            if (n <= 0) break;
            std::lock_guard lock(mutex_);
            bytes_.append(buf, static_cast<std::size_t>(n));
          }
        }) {}
  std::string bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
  }
  TestBackend& backend() { return backend_; }

 private:
  mutable std::mutex mutex_;
  std::string bytes_;
  TestBackend backend_;  // last: its threads use the members above
};

TEST(RequestHardeningFraming, ChunkSizeFollowedByJunkIs400AndNothingIsForwarded) {
  // RFC 9112 §7.1.1: after the size only BWS ";" extension or CRLF.
  RawRecorder recorder;
  SluiceInstance sluice(hardening_config(recorder.backend().address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(
      c.send("POST /c HTTP/1.1\r\nHost: backend.example\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5 junk\r\nhello\r\n0\r\n\r\n"));
  auto r = c.read_response(false, 5000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.wait_closed(5000));
  // sluice connects before it reads the body; it must close without a byte.
  ASSERT_TRUE(recorder.backend().wait_for_closed_connections(1, 5000));
  EXPECT_EQ(recorder.bytes(), "");
}

TEST_F(RequestHardening, ContentLengthListWithAnEmptyMemberIs400) {
  for (const std::string value : {"0,", ",0", "5,,5", "5, 5,", "0 0"}) {
    SCOPED_TRACE(value);
    auto r = exchange("POST / HTTP/1.1\r\nHost: backend.example\r\nContent-Length: " + value +
                      "\r\n\r\n" + (value.front() == '5' ? "hello" : ""));
    ASSERT_TRUE(r) << sluice_.process().output();
    EXPECT_EQ(r->status, 400);
  }
  EXPECT_EQ(backend_.accepted(), 0);
}

TEST_F(RequestHardening, ChunkSizeWithManyLeadingZerosIsAccepted) {
  // chunk-size = 1*HEXDIG: leading zeros are not significant digits.
  auto r =
      exchange("POST /z HTTP/1.1\r\nHost: backend.example\r\nTransfer-Encoding: chunked\r\n\r\n" +
               std::string(33, '0') + "5\r\nhello\r\n" + std::string(40, '0') + "\r\n\r\n");
  ASSERT_TRUE(r) << sluice_.process().output();
  EXPECT_EQ(r->status, 200);
  const auto got = backend_.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "hello");
}

}  // namespace
}  // namespace sluice::test
