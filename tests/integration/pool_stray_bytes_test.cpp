// A pooled backend connection must have nothing left to read. Issue 13 item
// 14: when a response filled sluice's read buffer exactly and a second,
// unsolicited response followed in the same write, the stray bytes stayed
// in the socket; edge-triggered epoll reports nothing new for bytes already
// queued, so the connection was pooled and the next request on it was
// answered with the stray response.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// The size of one pooled buffer, as sluice reports it in /debug/memory.
long buffer_bytes(const SluiceInstance& sluice) {
  auto r = sluice.admin_get("/debug/memory");
  std::smatch m;
  if (!r || !std::regex_search(r->body, m, std::regex(R"("bytes_each": (\d+))"))) return -1;
  return std::stol(m[1].str());
}

// A 200 response of exactly `total` bytes, head included.
std::string response_of_size(std::size_t total) {
  for (std::size_t body = total; body > 0; --body) {
    const std::string head =
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body) + "\r\n\r\n";
    if (head.size() + body == total) return head + std::string(body, 'x');
  }
  return {};
}

TEST(PoolStrayBytes, AStrayResponseAfterAOneBufferResponseNeverReachesTheNextRequest) {
  std::atomic<std::size_t> big_size{0};
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    if (c.index() == 1) {
      if (!c.read_request(r)) return;
      // One write: the big response and, right behind it, one nobody asked for.
      c.send(response_of_size(big_size) + make_response(200, "stray"));
      while (c.read_request(r)) {
        if (!c.send(make_response(200, "second answer on the first connection"))) return;
      }
      return;
    }
    while (c.read_request(r)) {
      if (!c.send(make_response(200, "fresh"))) return;
    }
  });
  SluiceInstance sluice(
      one_backend_config(backend.address(), "", 1, "admin: {listen: 127.0.0.1:0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const long capacity = buffer_bytes(sluice);
  ASSERT_GT(capacity, 1000);
  big_size = static_cast<std::size_t>(capacity);

  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto big = client.read_response();
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 200);
  const std::string sent = response_of_size(big_size);
  EXPECT_EQ(big->body, sent.substr(sent.find("\r\n\r\n") + 4)) << "the response passed whole";

  // The connection that carried the stray bytes is retired, not pooled.
  EXPECT_TRUE(backend.wait_for_closed_connections(1, 5000));
  ASSERT_TRUE(client.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "fresh");
  EXPECT_EQ(backend.accepted(), 2);
}

}  // namespace
}  // namespace sluice::test
