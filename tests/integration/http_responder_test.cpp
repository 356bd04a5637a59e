// The built-in responder and the server side of HTTP/1.1 connections, over
// real loopback sockets with real clients (curl, ab) and raw bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

const char* kConfig = R"(workers: 2
listeners:
  - name: web
    listen: 127.0.0.1:0
    max_body_size: 1KiB
  - name: announcing
    listen: 127.0.0.1:0
    keep_alive_header: true
routes:
  - name: health
    match: {path_exact: /health}
    respond: {status: 200, body: "ok\n"}
  - name: empty
    match: {path: /empty}
    respond: {status: 204}
  - name: hello
    match: {path: /}
    respond:
      status: 200
      headers: {Content-Type: text/plain, X-Served-By: sluice}
      body: "hello from sluice\n"
)";

class Responder : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { instance_ = new SluiceInstance(kConfig); }
  static void TearDownTestSuite() {
    delete instance_;
    instance_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(instance_->ready()) << instance_->process().output(); }
  std::uint16_t port() const { return instance_->port("web"); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  static SluiceInstance* instance_;
};
SluiceInstance* Responder::instance_ = nullptr;

bool contains(const std::string& s, const std::string& n) {
  return s.find(n) != std::string::npos;
}

TEST_F(Responder, CurlGetsTheBody) {
  auto r = run_command({"curl", "-sS", "-m", "5", "-i", url("/")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "HTTP/1.1 200 OK")) << r.output;
  EXPECT_TRUE(contains(r.output, "X-Served-By: sluice")) << r.output;
  EXPECT_TRUE(contains(r.output, "\r\n\r\nhello from sluice\n")) << r.output;
}

TEST_F(Responder, CurlHeadGetsHeadersAndNoBodyAtOnce) {
  // -m 5: a HEAD answered with a body, or never finished, fails here.
  auto r = run_command({"curl", "-sS", "-m", "5", "-I", url("/")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "HTTP/1.1 200 OK")) << r.output;
  EXPECT_TRUE(contains(r.output, "Content-Length: 18")) << r.output;
  EXPECT_FALSE(contains(r.output, "hello")) << r.output;
  // HTTP/1.1 persistence is implicit: no Connection header by default.
  EXPECT_FALSE(contains(r.output, "Connection:")) << r.output;
}

TEST_F(Responder, HeadThenGetOnOneConnectionStayInStep) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto head = c.read_response(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "18");
  auto get = c.read_response();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "ok\n");
  EXPECT_TRUE(c.leftover().empty());
}

TEST_F(Responder, AbKeepAliveUsesOneConnectionPerClient) {
  auto r = run_command({"ab", "-k", "-n", "2000", "-c", "10", url("/")}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("Complete requests:\\s+2000"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("Failed requests:\\s+0"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("Keep-Alive requests:\\s+2000"))) << r.output;
}

TEST_F(Responder, Http10WithoutKeepAliveIsClosed) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("GET / HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello from sluice\n");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(Responder, Http10KeepAliveIsEchoedAndKept) {
  RawConnection c(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("connection"), "keep-alive");
    EXPECT_EQ(r->body, "ok\n");
  }
}

TEST_F(Responder, Http11ConnectionCloseIsHonoured) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(Responder, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(port());
  ASSERT_TRUE(
      c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
             "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = c.read_response();
  auto b = c.read_response();
  auto h = c.read_response(true);
  auto e = c.read_response();
  auto d = c.read_response();
  ASSERT_TRUE(a && b && h && e && d);
  EXPECT_EQ(a->body, "ok\n");
  EXPECT_EQ(b->body, "hello from sluice\n");
  EXPECT_EQ(h->header("content-length"), "18");
  EXPECT_EQ(e->status, 204);
  EXPECT_FALSE(e->header("content-length"));  // RFC 9110 §8.6: none on 204
  EXPECT_EQ(d->body, "ok\n");
}

TEST_F(Responder, RequestBodyIsReadAndTheConnectionStaysUsable) {
  RawConnection c(port());
  ASSERT_TRUE(
      c.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
             "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n0\r\n\r\n"
             "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto a = c.read_response();
  auto b = c.read_response();
  auto d = c.read_response();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->body, "ok\n");
  EXPECT_EQ(b->body, "ok\n");
  EXPECT_EQ(d->body, "hello from sluice\n");
}

TEST_F(Responder, ExpectContinueGetsAnInterimResponse) {
  RawConnection c(port());
  ASSERT_TRUE(
      c.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
             "Expect: 100-continue\r\n\r\n"));
  // The interim response arrives before we send the body.
  auto interim = c.read_response(false, 5000, /*return_interim=*/true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("data"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok\n");
}

TEST_F(Responder, BodyOverTheLimitGets413) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(Responder, UnmatchedPathGets404) {
  // Every path matches "/", so use a listener-scoped miss: a host-less 1.0
  // request still matches; a route table miss needs its own config.
  SluiceInstance s(
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
      "routes:\n  - match: {path: /only}\n    respond: {status: 200}\n");
  ASSERT_TRUE(s.ready());
  RawConnection c(s.port("web"));
  ASSERT_TRUE(c.send("GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(Responder, ListenerOptionAnnouncesKeepAlive) {
  RawConnection c(instance_->port("announcing"));
  ASSERT_TRUE(c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "keep-alive");
  EXPECT_EQ(r->header("keep-alive"), "timeout=60");
}

// Short timeouts get an instance of their own: on the shared one, 20 tests
// under ctest -j2 and the sanitizers could trip them by being slow.
std::string short_timeouts_config() {
  return "workers: 1\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n"
         "    timeouts: {header: 300ms, idle: 400ms}\n"
         "routes:\n  - match: {path: /}\n    respond: {status: 200, body: \"ok\\n\"}\n";
}

// What "after the timeout" may mean: not before it, and well before a
// default (10 s for a head, 60 s idle) or a second timer would.
constexpr auto kTimeoutSlack = std::chrono::milliseconds(1700);

TEST(ResponderTimeouts, SlowClientGets408AfterTheHeaderTimeoutAndIsClosed) {
  SluiceInstance s(short_timeouts_config());
  ASSERT_TRUE(s.ready()) << s.process().output();
  // Before the connect: the timer cannot have started earlier.
  const auto sent = std::chrono::steady_clock::now();
  RawConnection c(s.port("web"));
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finishes the head
  auto r = c.read_response(false, 5000);
  const auto waited = std::chrono::steady_clock::now() - sent;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_GE(waited, std::chrono::milliseconds(300) - kTimerEarliness);
  EXPECT_LT(waited, std::chrono::milliseconds(300) + kTimeoutSlack);
  EXPECT_TRUE(c.wait_closed());
}

TEST(ResponderTimeouts, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
  SluiceInstance s(short_timeouts_config());
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection c(s.port("web"));
  // The idle time starts after the response is written, so after this.
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.wait_closed(5000));
  const auto open_for = std::chrono::steady_clock::now() - sent;
  EXPECT_GE(open_for, std::chrono::milliseconds(400) - kTimerEarliness);
  EXPECT_LT(open_for, std::chrono::milliseconds(400) + kTimeoutSlack);
  EXPECT_TRUE(c.leftover().empty());  // closed quietly, no 408 on an idle connection
}

struct MalformedCase {
  const char* name;
  const char* bytes;
  int status;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const MalformedCase& c, std::ostream* os) {
  *os << c.name;
}

class MalformedRequest : public Responder, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedRequest, GetsItsStatusAndTheConnectionIsClosed) {
  RawConnection c(port());
  ASSERT_TRUE(c.send(GetParam().bytes));
  auto r = c.read_response();
  ASSERT_TRUE(r) << GetParam().name;
  EXPECT_EQ(r->status, GetParam().status) << GetParam().name;
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed()) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc9112, MalformedRequest,
    ::testing::Values(
        MalformedCase{"ContentLengthWithTransferEncoding",
                      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                      400},
        MalformedCase{
            "DifferingContentLengths",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400},
        MalformedCase{"ChunkedNotLast",
                      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                      400},
        MalformedCase{"UnknownTransferCoding",
                      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                      501},
        MalformedCase{"ObsFold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\n\r\n", 400},
        MalformedCase{"BareCR", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n", 400},
        MalformedCase{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        MalformedCase{"BadNameCharacter", "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400},
        MalformedCase{"ControlCharInValue", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\x01\r\n\r\n", 400},
        MalformedCase{"NoHost", "GET / HTTP/1.1\r\n\r\n", 400},
        MalformedCase{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        MalformedCase{"ChunkSizeOverflow",
                      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "fffffffffffffffffff\r\n",
                      400},
        MalformedCase{"GarbageRequestLine", "HELLO\r\n\r\n", 400}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(Responder, RejectedRequestIsLogged) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  auto line = instance_->process().wait_for_line("400 Bad Request");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("listener 'web'"), std::string::npos) << *line;
  EXPECT_NE(line->find("127.0.0.1:"), std::string::npos) << *line;  // the client
}

TEST(ResponderLimits, HeadUpToTheConfiguredMaximumIsServedWithItsBody) {
  // 40 KiB of fields: over the 16 KiB default, under the listener's 48 KiB.
  SluiceInstance s(
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    max_header_size: 48KiB\n"
      "routes:\n  - match: {path: /}\n    respond: {status: 200, body: \"big\\n\"}\n");
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection c(s.port("web"));
  std::string req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n";
  for (int i = 0; i < 40; ++i)
    req += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  req += "\r\n" + std::string(20000, 'b');
  ASSERT_TRUE(c.send(req + "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.read_response();
  auto second = c.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->body, "big\n");
}

TEST_F(Responder, LongRequestLineGets414) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 414);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(Responder, HugeHeaderSectionGets431) {
  RawConnection c(port());
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 400; ++i)
    req += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  req += "\r\n";
  ASSERT_TRUE(c.send(req));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
}

}  // namespace
}  // namespace sluice::test
