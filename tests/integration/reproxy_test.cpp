// Reproxy (issue 18): a backend's X-Reproxy-URL, X-Accel-Redirect and
// X-Sendfile make sluice serve something else in the response's place,
// within what the route's 'reproxy' block allows. Real processes: sluice,
// a primary backend that answers with the fields, a storage server, an
// internal backend, and a port nobody listens on.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

constexpr const char* kStored = "0123456789abcdef";  // 16 bytes at the storage server

// A loopback port bound but never listening: a connect there is refused.
class DeadPort {
 public:
  DeadPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~DeadPort() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// The storage server: /static/a is kStored, with Range support; anything
// else is 404. Its own Content-Type must not reach the client.
TestBackend::Script storage() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      std::string out;
      if (r.target != "/static/a") {
        out = make_response(404, "no");
      } else if (r.header("range") == "bytes=2-5") {
        out = make_response(
            206, r.method == "HEAD" ? "" : "2345",
            {"Content-Type: application/from-storage", "Content-Range: bytes 2-5/16",
             "ETag: \"v1\"", r.method == "HEAD" ? "Content-Length: 4" : "X-Full: no"});
      } else if (r.method == "HEAD") {
        out = make_response(
            200, "",
            {"Content-Type: application/from-storage", "Content-Length: 16", "ETag: \"v1\""});
      } else {
        out =
            make_response(200, kStored, {"Content-Type: application/from-storage", "ETag: \"v1\""});
      }
      if (!c.send(out)) return;
    }
  };
}

// Answers every request 200 with `body` and `fields`.
TestBackend::Script answers(std::string body, std::vector<std::string> fields) {
  return [body, fields](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (!c.send(make_response(200, r.method == "HEAD" ? "" : body, fields))) return;
    }
  };
}

// The primary backend: what it answers depends on the path.
struct Primary {
  std::string dead, store, outside;  // "127.0.0.1:port"
  std::string answer_for(const std::string& target) const {
    std::vector<std::string> f = {"Content-Type: text/x-primary", "Cache-Control: max-age=5",
                                  "Set-Cookie: s=1", "X-Other: primary-only"};
    if (target == "/app/two") {
      f.push_back("X-Reproxy-URL: http://" + dead + "/static/a http://" + store + "/static/a");
    } else if (target == "/app/sized-wrong") {
      f.push_back("X-Reproxy-URL: http://" + store + "/static/a");
      f.push_back("X-Reproxy-Expected-Size: 99");
    } else if (target == "/app/outside") {
      f.push_back("X-Reproxy-URL: http://" + outside + "/static/a");
    } else if (target == "/app/all-fail") {
      f.push_back("X-Reproxy-URL: http://" + dead + "/static/a http://" + store +
                  "/static/missing");
    } else if (target == "/app/accel" || target == "/app/accel-twice") {
      f.push_back("X-Accel-Redirect: /protected/" + target.substr(5));
    } else if (target == "/app/escape-dots") {
      f.push_back("X-Sendfile: /../secret.txt");
    } else if (target == "/app/escape-link") {
      f.push_back("X-Sendfile: /link.txt");
    } else if (target.rfind("/app/file/", 0) == 0) {
      f.push_back("X-Sendfile: " + target.substr(9));
    } else if (target == "/plain/leak") {
      f.push_back("X-Reproxy-URL: http://" + store + "/static/a");
      f.push_back("X-Accel-Redirect: /protected/x");
      f.push_back("X-Sendfile: /f.txt");
    }
    return make_response(200, "primary body", f);
  }
};

TestBackend::Script primary(const Primary* p) {
  return [p](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      std::string out = p->answer_for(r.target);
      if (r.method == "HEAD") out = out.substr(0, out.find("\r\n\r\n") + 4);
      if (!c.send(out)) return;
    }
  };
}

class Reproxy : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directory(files_.path() / "files");
    files_.write("files/f.txt", "abcdefghij");
    files_.write("secret.txt", "top secret");
    std::filesystem::create_symlink(files_.path() / "secret.txt",
                                    files_.path() / "files" / "link.txt");
    p_.dead = "127.0.0.1:" + std::to_string(dead_.port());
    p_.store = store_.address();
    p_.outside = outside_.address();
    const std::string yaml =
        "workers: 1\n"
        "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
        "routes:\n"
        "  - name: vault\n    internal: true\n    match: {path: /protected/}\n"
        "    backend: vault\n"
        "  - name: app\n    match: {path: /app/}\n    backend: app\n"
        "    reproxy:\n      urls: true\n      accel_redirect: true\n"
        "      files: {root: " +
        (files_.path() / "files").string() +
        "}\n"
        "      allow: ['http://" +
        p_.dead + "/static/', 'http://" + p_.store +
        "/static/']\n"
        "  - name: plain\n    match: {path: /plain/}\n    backend: app\n"
        "backends:\n"
        "  app: {servers: ['" +
        app_.address() +
        "']}\n"
        "  vault: {servers: ['" +
        vault_.address() + "']}\n";
    sluice_ = std::make_unique<SluiceInstance>(yaml);
    ASSERT_TRUE(sluice_->ready()) << sluice_->process().output();
  }

  std::optional<HttpResponse> request(const std::string& method, const std::string& path,
                                      const std::string& extra = "") {
    RawConnection c(sluice_->port("web"));
    if (!c.send(method + " " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n")) return {};
    return c.read_response(method == "HEAD");
  }
  std::string log() const { return sluice_->process().output(); }

  TempDir files_;
  DeadPort dead_;
  TestBackend store_{storage()};
  TestBackend outside_{answers("outside", {})};
  TestBackend vault_{
      answers("vault body", {"Content-Type: text/x-vault", "X-Accel-Redirect: /protected/again"})};
  Primary p_;
  TestBackend app_{primary(&p_)};
  std::unique_ptr<SluiceInstance> sluice_;
};

TEST_F(Reproxy, FirstUrlRefusedSecondServedWithThePrimarysFields) {
  const auto r = request("GET", "/app/two");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, kStored);
  EXPECT_EQ(r->header("content-type"), "text/x-primary");
  EXPECT_EQ(r->header("cache-control"), "max-age=5");
  EXPECT_EQ(r->header("set-cookie"), "s=1");
  EXPECT_EQ(r->header("etag"), "\"v1\"");
  EXPECT_FALSE(r->header("x-other"));
  EXPECT_FALSE(r->header("x-reproxy-url"));
  const auto fetched = store_.requests();
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].method, "GET");
  EXPECT_EQ(fetched[0].header("host"), p_.store);
}

TEST_F(Reproxy, HeadIsFetchedAsHeadAndGetsTheLengthWithoutABody) {
  const auto r = request("HEAD", "/app/two");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->header("content-length"), "16");
  EXPECT_EQ(r->header("content-type"), "text/x-primary");
  const auto fetched = store_.requests();
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].method, "HEAD");
}

TEST_F(Reproxy, RangeAndPreconditionsArePassedOnAndThe206Relayed) {
  const auto r = request("GET", "/app/two", "Range: bytes=2-5\r\nIf-None-Match: \"old\"\r\n");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, "2345");
  EXPECT_EQ(r->header("content-range"), "bytes 2-5/16");
  const auto fetched = store_.requests();
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].header("range"), "bytes=2-5");
  EXPECT_EQ(fetched[0].header("if-none-match"), "\"old\"");
}

TEST_F(Reproxy, ATargetOutsideTheAllowlistIsNeverFetched) {
  const auto r = request("GET", "/app/outside");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(outside_.requests().size(), 0u);
  EXPECT_NE(log().find("not under reproxy.allow"), std::string::npos) << log();
}

TEST_F(Reproxy, WhenEveryUrlFailsTheClientGets503) {
  const auto r = request("GET", "/app/all-fail");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body.find("primary"), std::string::npos);
}

TEST_F(Reproxy, AnUnexpectedSizeMovesOnAndEndsIn503) {
  const auto r = request("GET", "/app/sized-wrong");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 503);
}

TEST_F(Reproxy, AccelRedirectReachesTheInternalRouteOnce) {
  const auto r = request("GET", "/app/accel");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "vault body");
  EXPECT_EQ(r->header("content-type"), "text/x-vault");
  // The vault's own X-Accel-Redirect is neither followed nor shown.
  EXPECT_FALSE(r->header("x-accel-redirect"));
  const auto seen = vault_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/protected/accel");
  EXPECT_EQ(seen[0].method, "GET");
}

TEST_F(Reproxy, AClientCannotReachTheInternalRouteDirectly) {
  const auto r = request("GET", "/protected/accel");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(vault_.requests().size(), 0u);
}

TEST_F(Reproxy, SendfileServesTheFileWholeRangedAndToHead) {
  auto r = request("GET", "/app/file/f.txt");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "abcdefghij");
  EXPECT_EQ(r->header("content-type"), "text/x-primary");
  EXPECT_TRUE(r->header("last-modified"));
  r = request("GET", "/app/file/f.txt", "Range: bytes=3-5\r\n");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, "def");
  EXPECT_EQ(r->header("content-range"), "bytes 3-5/10");
  r = request("GET", "/app/file/f.txt", "Range: bytes=-2\r\n");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, "ij");
  r = request("GET", "/app/file/f.txt", "Range: bytes=10-\r\n");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 416);
  EXPECT_EQ(r->header("content-range"), "bytes */10");
  r = request("HEAD", "/app/file/f.txt");
  ASSERT_TRUE(r) << log();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "10");
  EXPECT_EQ(r->body, "");
}

TEST_F(Reproxy, SendfileRefusesPathsOutOfTheRoot) {
  // "X-Sendfile: /../secret.txt", then a symlink in the root to the same.
  for (const std::string path : {"/app/escape-dots", "/app/escape-link"}) {
    const auto r = request("GET", path);
    ASSERT_TRUE(r) << log();
    EXPECT_EQ(r->status, 502) << path;
    EXPECT_EQ(r->body.find("top secret"), std::string::npos) << path;
  }
  EXPECT_NE(log().find("leads out of files.root"), std::string::npos) << log();
}

// A route that may reproxy, whose backend asks for nothing: the answer is
// relayed as it is, fields and all, and nothing else is fetched.
TEST_F(Reproxy, AnAnswerThatAsksForNothingOnAReproxyRouteIsRelayedAsItIs) {
  for (int i = 0; i < 2; ++i) {
    const auto r = request("GET", "/app/nothing");
    ASSERT_TRUE(r) << log();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "primary body");
    EXPECT_EQ(r->header("content-type"), "text/x-primary");
    EXPECT_EQ(r->header("x-other"), "primary-only");
  }
  EXPECT_EQ(app_.requests().size(), 2u);
  EXPECT_EQ(store_.requests().size(), 0u);
  EXPECT_EQ(vault_.requests().size(), 0u);
}

TEST_F(Reproxy, ClientsCannotSendTheFieldsAndNeverSeeThem) {
  const auto r = request("GET", "/plain/leak",
                         "X-Reproxy-URL: http://" + p_.store +
                             "/static/a\r\nX-Accel-Redirect: /protected/x\r\nX-Sendfile: /f.txt\r\n"
                             "X-Reproxy-Expected-Size: 16\r\n");
  ASSERT_TRUE(r) << log();
  // A route without reproxy relays the response as it is, less the fields.
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "primary body");
  EXPECT_FALSE(r->header("x-reproxy-url"));
  EXPECT_FALSE(r->header("x-accel-redirect"));
  EXPECT_FALSE(r->header("x-sendfile"));
  const auto seen = app_.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].has("x-reproxy-url"));
  EXPECT_FALSE(seen[0].has("x-accel-redirect"));
  EXPECT_FALSE(seen[0].has("x-sendfile"));
  EXPECT_FALSE(seen[0].has("x-reproxy-expected-size"));
  EXPECT_EQ(store_.requests().size(), 0u);
  EXPECT_EQ(vault_.requests().size(), 0u);
}

}  // namespace
}  // namespace sluice::test
