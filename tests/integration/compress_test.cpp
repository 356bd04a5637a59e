// The compress middleware end to end (issue 18): bodies coded by sluice
// decode with the gzip, brotli and zstd command-line tools to exactly the
// backend's bytes; the client's q-values choose; what must not be coded
// (small bodies, images, coded bodies) is not; Server-Sent Events stream
// through untouched, event by event; a slow chunked body is coded as it
// comes; and HTTP/2 clients (curl) get it too.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Text that compresses as a web page does: repetitive markup, varied words.
std::string html(std::size_t bytes, unsigned seed = 7) {
  static const char* const kWords[] = {"proxy", "stream", "window", "sluice", "gate",
                                       "river", "header", "field",  "coding", "vary"};
  std::string s = "<!doctype html><html><body>\n";
  unsigned x = seed;
  while (s.size() < bytes) {
    x = x * 1103515245 + 12345;
    s += "<li><a href=\"/items/" + std::to_string(x % 100000) + "\">";
    for (int i = 0; i < 5; ++i) {
      x = x * 1103515245 + 12345;
      s += kWords[(x >> 16) % 10];
      s += ' ';
    }
    s += "</a></li>\n";
  }
  s.resize(bytes);
  return s;
}

const std::string kPage = html(64 * 1024);

// A count a test raises and a backend script waits on: "the client has
// read event n" without sleeping.
class Gate {
 public:
  void raise() {
    std::lock_guard lock(mutex_);
    ++count_;
    cv_.notify_all();
  }
  bool wait_for(int n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_ = 0;
};

constexpr int kEvents = 3;
const std::string kStreamFirst = html(20 * 1024, 1);
const std::string kStreamRest = html(30 * 1024, 2);

std::string event(int i) {
  return "id: " + std::to_string(i) + "\ndata: event " + std::to_string(i) + " of the stream\n\n";
}

std::string chunk(const std::string& data) {
  std::ostringstream size;
  size << std::hex << data.size();
  return size.str() + "\r\n" + data + "\r\n";
}

// The backend: what it answers depends on the path.
TestBackend::Script site(Gate& gate) {
  return [&gate](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const std::string& t = r.target;
      const bool head = r.method == "HEAD";
      auto answer = [&](const std::string& body, const std::vector<std::string>& fields) {
        std::string out = make_response(200, body, fields);
        if (head) out.resize(out.find("\r\n\r\n") + 4);
        return c.send(out);
      };
      bool ok = true;
      if (t == "/page") {
        ok = answer(kPage,
                    {"Content-Type: text/html; charset=utf-8", "ETag: \"v1\"", "Vary: Origin"});
      } else if (t == "/small") {
        ok = answer(kPage.substr(0, 500), {"Content-Type: text/html"});
      } else if (t == "/png") {
        ok = answer(kPage, {"Content-Type: image/png"});
      } else if (t == "/encoded") {
        ok = answer(kPage, {"Content-Type: text/html", "Content-Encoding: br"});
      } else if (t == "/events") {
        // One event at a time: the next only once the test has read this one.
        ok = c.send(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "Transfer-Encoding: chunked\r\n\r\n");
        for (int i = 1; ok && i <= kEvents; ++i) {
          ok = c.send(chunk(event(i))) && gate.wait_for(i);
        }
        ok = ok && c.send("0\r\n\r\n");
      } else if (t == "/stream") {
        // The first part, then the rest only once the test saw coded bytes.
        ok = c.send(
                 "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n") &&
             c.send(chunk(kStreamFirst)) && gate.wait_for(1) && c.send(chunk(kStreamRest)) &&
             c.send("0\r\n\r\n");
      } else {
        ok = answer("no such page", {"Content-Type: text/plain"});
      }
      if (!ok) return;
    }
  };
}

std::string config(std::uint16_t backend_port) {
  return R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    middlewares: [gz]
middlewares:
  gz:
    compress: {}
routes:
  - name: app
    backend: app
backends:
  app:
    servers: [127.0.0.1:)" +
         std::to_string(backend_port) + "]\n";
}

class Compress : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(sluice_.ready()) << sluice_.process().output(); }

  std::uint16_t port() { return sluice_.port("web"); }

  HttpResponse get(const std::string& path, const std::string& accept_encoding,
                   const std::string& method = "GET") {
    RawConnection c(port());
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: t\r\n";
    if (!accept_encoding.empty()) req += "Accept-Encoding: " + accept_encoding + "\r\n";
    EXPECT_TRUE(c.send(req + "\r\n"));
    auto r = c.read_response(method == "HEAD");
    EXPECT_TRUE(r) << sluice_.process().output();
    return r ? *r : HttpResponse{};
  }

  // `coded` decoded by the command-line tool of `coding`.
  std::string decode(const std::string& coding, const std::string& coded) {
    const std::string in = dir_.write("body." + coding, coded);
    const std::string out = (dir_.path() / ("decoded." + coding)).string();
    const std::string tool = coding == "gzip" ? "gzip -dc"
                             : coding == "br" ? "brotli -dc"
                                              : "zstd -dcq";
    const auto r = run_command({"sh", "-c", tool + " < \"$1\" > \"$2\"", "sh", in, out});
    EXPECT_EQ(r.exit_code, 0) << coding << ": " << r.output;
    std::ifstream f(out, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  }

  Gate gate_;
  TestBackend backend_{site(gate_)};
  SluiceInstance sluice_{config(backend_.port())};
  TempDir dir_;
};

// ------------------------------------------------------------ coded bodies

TEST_F(Compress, EachCodingDecodesWithItsCommandLineToolToTheOriginalBytes) {
  for (const std::string coding : {"gzip", "br", "zstd"}) {
    SCOPED_TRACE(coding);
    const HttpResponse r = get("/page", coding);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-encoding"), coding);
    EXPECT_FALSE(r.header("content-length"));
    EXPECT_EQ(r.header("transfer-encoding"), "chunked");
    EXPECT_LT(r.body.size(), kPage.size() / 3);
    EXPECT_EQ(decode(coding, r.body), kPage);
  }
}

TEST_F(Compress, ACodedResponseVariesByAcceptEncodingAndHasAWeakEtag) {
  const HttpResponse r = get("/page", "gzip");
  EXPECT_EQ(r.header("vary"), "Origin, Accept-Encoding");
  EXPECT_EQ(r.header("etag"), "W/\"v1\"");
}

TEST_F(Compress, TheClientsHighestQValueWinsAndZeroRulesACodingOut) {
  EXPECT_EQ(get("/page", "gzip;q=0.5, br;q=0.9").header("content-encoding"), "br");
  EXPECT_EQ(get("/page", "gzip;q=1, br;q=0.9").header("content-encoding"), "gzip");
  // Equal weights: our order (zstd, gzip, br).
  EXPECT_EQ(get("/page", "gzip, deflate, br, zstd").header("content-encoding"), "zstd");
  EXPECT_EQ(get("/page", "gzip, br").header("content-encoding"), "gzip");
  EXPECT_EQ(get("/page", "zstd;q=0, *").header("content-encoding"), "gzip");
  const HttpResponse none = get("/page", "gzip;q=0, deflate");
  EXPECT_FALSE(none.header("content-encoding"));
  EXPECT_EQ(none.body, kPage);
}

TEST_F(Compress, WithoutAcceptEncodingTheBodyKeepsItsLengthButVaryIsSaid) {
  const HttpResponse r = get("/page", "");
  EXPECT_FALSE(r.header("content-encoding"));
  EXPECT_EQ(r.header("content-length"), std::to_string(kPage.size()));
  EXPECT_EQ(r.header("vary"), "Origin, Accept-Encoding");
  EXPECT_EQ(r.header("etag"), "\"v1\"");
  EXPECT_EQ(r.body, kPage);
}

TEST_F(Compress, SmallImageAndAlreadyCodedBodiesAreUntouched) {
  for (const std::string path : {"/small", "/png", "/encoded"}) {
    SCOPED_TRACE(path);
    const HttpResponse r = get(path, "gzip, br, zstd");
    const std::string want = path == "/small" ? kPage.substr(0, 500) : kPage;
    EXPECT_EQ(r.header("content-encoding"),
              path == "/encoded" ? std::optional<std::string>("br") : std::nullopt);
    EXPECT_EQ(r.header("content-length"), std::to_string(want.size()));
    EXPECT_FALSE(r.header("vary"));
    EXPECT_EQ(r.body, want);
  }
}

TEST_F(Compress, AHeadRequestGetsTheFieldsAGetWouldWithoutABody) {
  const HttpResponse r = get("/page", "gzip", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-encoding"), "gzip");
  EXPECT_FALSE(r.header("content-length"));
  EXPECT_EQ(r.header("etag"), "W/\"v1\"");
  EXPECT_TRUE(r.body.empty());
}

// ------------------------------------------------------------ streaming

// Reads a chunked response from a raw socket as it arrives.
class ChunkedReader {
 public:
  explicit ChunkedReader(int fd) : fd_(fd) {}

  // Reads until the head is in; returns it.
  std::string head() {
    while (in_.find("\r\n\r\n") == std::string::npos) {
      if (!fill()) return {};
    }
    const auto end = in_.find("\r\n\r\n") + 4;
    std::string h = in_.substr(0, end);
    in_.erase(0, end);
    return h;
  }

  // Reads until the decoded body holds `n` bytes or more. False on timeout.
  bool body_at_least(std::size_t n) {
    for (;;) {
      decode();
      if (body_.size() >= n) return true;
      if (!fill()) return false;
    }
  }
  // Reads until `needle` is in the decoded body.
  bool body_contains(const std::string& needle) {
    for (;;) {
      decode();
      if (body_.find(needle) != std::string::npos) return true;
      if (!fill()) return false;
    }
  }
  // Reads to the last chunk.
  bool to_end() {
    for (;;) {
      decode();
      if (ended_) return true;
      if (!fill()) return false;
    }
  }
  const std::string& body() const { return body_; }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) return false;
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  void decode() {
    for (;;) {
      const auto eol = in_.find("\r\n");
      if (eol == std::string::npos) return;
      const std::size_t size = std::stoul(in_.substr(0, eol), nullptr, 16);
      if (size == 0) {
        ended_ = true;
        return;
      }
      if (in_.size() < eol + 2 + size + 2) return;
      body_.append(in_, eol + 2, size);
      in_.erase(0, eol + 2 + size + 2);
    }
  }

  int fd_;
  std::string in_;
  std::string body_;
  bool ended_ = false;
};

TEST_F(Compress, ServerSentEventsReachTheClientOneByOneUncoded) {
  RawConnection c(port());
  ASSERT_TRUE(
      c.send("GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n"
             "Accept-Encoding: gzip, br, zstd\r\n\r\n"));
  ChunkedReader reader(c.fd());
  const std::string head = reader.head();
  ASSERT_NE(head.find(" 200 "), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Encoding"), std::string::npos) << head;
  std::string expected;
  for (int i = 1; i <= kEvents; ++i) {
    expected += event(i);
    // The backend sends event i+1 only after this: each event came alone.
    ASSERT_TRUE(reader.body_contains(event(i))) << "event " << i << " did not arrive";
    EXPECT_EQ(reader.body(), expected);
    gate_.raise();
  }
  ASSERT_TRUE(reader.to_end());
  EXPECT_EQ(reader.body(), expected);
}

TEST_F(Compress, AChunkedBodyIsCodedAsItComesNotWhenItEnds) {
  RawConnection c(port());
  ASSERT_TRUE(c.send("GET /stream HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"));
  ChunkedReader reader(c.fd());
  const std::string head = reader.head();
  ASSERT_NE(head.find("Content-Encoding: gzip"), std::string::npos) << head;
  // The backend holds the rest back until this much arrived: coded bytes
  // of the first part, flushed, decode to all of it.
  ASSERT_TRUE(reader.body_at_least(64)) << "nothing coded reached the client before the end";
  std::string first = reader.body();
  while (true) {
    const std::string in = dir_.write("first.gz", first);
    const auto r = run_command({"sh", "-c", "gzip -dc < \"$1\" 2>/dev/null; true", "sh", in});
    if (r.output == kStreamFirst) break;
    ASSERT_TRUE(kStreamFirst.starts_with(r.output)) << "decoded bytes are not the first part";
    ASSERT_TRUE(reader.body_at_least(first.size() + 1)) << "the first part never came whole";
    first = reader.body();
  }
  gate_.raise();
  ASSERT_TRUE(reader.to_end());
  EXPECT_EQ(decode("gzip", reader.body()), kStreamFirst + kStreamRest);
}

// ------------------------------------------------------------ HTTP/2

TEST_F(Compress, AnHttp2ClientGetsACodedBodyItDecodes) {
  const std::string body = (dir_.path() / "h2.out").string();
  const auto r =
      run_command({"curl", "-sS", "--http2-prior-knowledge", "--compressed", "-D", "-", "-o", body,
                   "--max-time", "20", "http://127.0.0.1:" + std::to_string(port()) + "/page"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HTTP/2 200"), std::string::npos) << r.output;
  // curl offers "deflate, gzip, br, zstd" (whichever it was built with).
  EXPECT_NE(r.output.find("content-encoding: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("vary: Origin, Accept-Encoding"), std::string::npos) << r.output;
  std::ifstream f(body, std::ios::binary);
  const std::string got{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  EXPECT_EQ(got, kPage);
}

}  // namespace
}  // namespace sluice::test
