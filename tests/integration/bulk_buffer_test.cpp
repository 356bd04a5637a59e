// Bulk buffers (core/worker.h, proxy/http1_upstream.cpp): once a response
// body fills a read buffer, the rest moves through a larger one. Each body
// must still arrive byte for byte in every framing, the backend connection
// must stay reusable after it, and the larger buffers must go back to the
// pool after the body and out of memory after the traffic.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"
#include "tls_clients.h"

namespace sluice::test {
namespace {

// Many bulk buffers' worth, not a multiple of one, and more than a client
// socket's largest send buffer (tcp_wmem's 4 MiB), so that a client that
// does not read stalls its exchange.
constexpr std::size_t kLarge = 12 * 1024 * 1024 + 17;

// Bytes that differ from their neighbours, so a piece relayed twice, lost
// or out of order never compares equal.
std::string patterned(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

const std::string& large_body() {
  static const std::string body = patterned(kLarge);
  return body;
}

// Compressible text as large as large_body(): numbered lines of markup.
const std::string& large_text() {
  static const std::string text = [] {
    std::string t;
    for (int i = 0; t.size() < kLarge; ++i)
      t += "<li class=\"row\">item " + std::to_string(i) + " of the list</li>\n";
    return t;
  }();
  return text;
}

// /length: Content-Length; /chunked: 200 KiB chunks; /close: delimited by
// the backend's close; /text: large_text() as HTML; anything else: a small
// body.
TestBackend::Script large_bodies() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/length") {
        if (!c.send(make_response(200, large_body(), {}))) return;
      } else if (r.target == "/chunked") {
        const std::string head = make_response(200, "", {"Transfer-Encoding: chunked"});
        if (!c.send(head + chunk_body(large_body(), 200 * 1024))) return;
      } else if (r.target == "/text") {
        if (!c.send(make_response(200, large_text(), {"Content-Type: text/html"}))) return;
      } else if (r.target == "/close") {
        c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + large_body());
        return;
      } else if (!c.send(make_response(200, "small", {}))) {
        return;
      }
    }
  };
}

struct BulkCounts {
  long in_use = -1;
  long cached = -1;
};

BulkCounts bulk_buffers(const SluiceInstance& sluice) {
  BulkCounts b;
  auto r = sluice.admin_get("/debug/memory");
  std::smatch m;
  if (r && std::regex_search(r->body, m,
                             std::regex(R"("bulk_buffers": \{"in_use": (\d+), "cached": (\d+))"))) {
    b.in_use = std::stol(m[1].str());
    b.cached = std::stol(m[2].str());
  }
  return b;
}

std::string config(const std::string& server) {
  return one_backend_config(server, "", 1, "admin: {listen: 127.0.0.1:0}\n");
}

TEST(BulkBuffers, LargeBodiesInEveryFramingArriveWholeAndTheBackendConnectionIsReusedAfter) {
  TestBackend backend(large_bodies());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(bulk_buffers(sluice).cached, 0) << "no bulk buffer before a large body";
  RawConnection client(sluice.port("web"));
  for (const char* path : {"/length", "/chunked", "/small", "/close"}) {
    SCOPED_TRACE(path);
    ASSERT_TRUE(client.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = client.read_response(false, 20'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 200);
    const std::string& want = std::string(path) == "/small" ? std::string("small") : large_body();
    EXPECT_EQ(r->body.size(), want.size());
    EXPECT_TRUE(r->body == want) << "the body differs";
  }
  // The first three rode one backend connection: a bulk read never took
  // bytes of the next response, nor left any behind.
  EXPECT_EQ(backend.accepted(), 1);
  // Each large body went through a bulk buffer, and every one came back.
  const BulkCounts after = bulk_buffers(sluice);
  EXPECT_EQ(after.in_use, 0);
  EXPECT_GE(after.cached, 1) << "a large body did not take a bulk buffer";
}

TEST(BulkBuffers, ABurstOfLargeBodiesLeavesNoMoreThanOneBulkBufferCachedOnceItEnds) {
  TestBackend backend(large_bodies());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // Four downloads at once, none read yet. Each client's receive buffer
  // is kept small, so the kernel cannot hold a whole body and each
  // exchange stops with a bulk buffer full of bytes its client has not
  // taken.
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    const int small = 64 * 1024;
    ::setsockopt(clients.back()->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ASSERT_TRUE(clients.back()->send("GET /length HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  // Polled with a bound: the admin API's round trip paces it.
  using Clock = std::chrono::steady_clock;
  BulkCounts during;
  for (auto deadline = Clock::now() + std::chrono::seconds(10);
       during.in_use < kClients && Clock::now() < deadline;) {
    during = bulk_buffers(sluice);
  }
  EXPECT_EQ(during.in_use, kClients) << "each stalled large body holds one bulk buffer";
  for (auto& c : clients) {
    auto r = c->read_response(false, 20'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_TRUE(r->body == large_body());
  }
  // Once the burst is over, the reclaim timer (every 500 ms while buffers
  // move) gives back all but one within two periods.
  BulkCounts settled = bulk_buffers(sluice);
  for (auto deadline = Clock::now() + std::chrono::seconds(10);
       settled.cached > 1 && Clock::now() < deadline;) {
    settled = bulk_buffers(sluice);
  }
  EXPECT_EQ(settled.in_use, 0);
  EXPECT_LE(settled.cached, 1) << "the burst's bulk buffers stayed cached";
}

TEST(BulkBuffers, ResponsesToHttp2ClientsArriveWholeWithoutTakingABulkBuffer) {
  TestBackend backend(large_bodies());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  TempDir dir;
  const std::string out = (dir.path() / "body").string();
  const auto r = run_command(
      {"curl", "-sS", "--http2-prior-knowledge", "-o", out, "-w", "%{http_code} %{http_version}",
       "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/length"});
  EXPECT_EQ(r.output, "200 2") << sluice.process().output();
  const std::string body = read_whole_file(out);
  EXPECT_EQ(body.size(), large_body().size());
  EXPECT_TRUE(body == large_body()) << "the body differs";
  // An HTTP/2 client's streams would multiply what stalled readers hold.
  EXPECT_EQ(bulk_buffers(sluice).cached, 0);
}

TEST(BulkBuffers, ALargeBodyCompressedOnTheWayDecodesWhole) {
  TestBackend backend(large_bodies());
  SluiceInstance sluice(
      "workers: 1\n"
      "admin: {listen: 127.0.0.1:0}\n"
      "middlewares:\n"
      "  gz:\n"
      "    compress: {}\n"
      "listeners:\n"
      "  - name: web\n"
      "    listen: 127.0.0.1:0\n"
      "    middlewares: [gz]\n"
      "routes:\n"
      "  - backend: app\n"
      "backends:\n"
      "  app:\n"
      "    servers: [" +
      backend.address() + "]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /text HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"));
  auto r = client.read_response(false, 20'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->header("content-encoding"), "gzip");
  TempDir dir;
  const std::string coded = (dir.path() / "body.gz").string();
  const std::string decoded = (dir.path() / "body").string();
  std::ofstream(coded, std::ios::binary) << r->body;
  const auto unzip = run_command({"sh", "-c", "gzip -dc < \"$1\" > \"$2\"", "sh", coded, decoded});
  EXPECT_EQ(unzip.exit_code, 0) << unzip.output;
  const std::string body = read_whole_file(decoded);
  EXPECT_EQ(body.size(), large_text().size());
  EXPECT_TRUE(body == large_text()) << "the decoded body differs";
  EXPECT_GE(bulk_buffers(sluice).cached, 1) << "the body did not go through a bulk buffer";
}

}  // namespace
}  // namespace sluice::test
