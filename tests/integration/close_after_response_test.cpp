// How a connection ends after its last response (RFC 9112 §9.6). A client
// that asked to close and sent nothing more is closed at once, as nginx
// does: its connection's place is free without waiting for the client's
// FIN. A client that may still be sending (bytes behind its request) gets
// the lingering close: sluice stops sending, reads and drops what comes,
// and closes once the client has, so its close cannot reset a response
// still in flight.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::string config(const std::string& backend) {
  return "workers: 1\nadmin: {listen: 127.0.0.1:0}\n"
         "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
         "routes:\n"
         "  - {match: {path: /local}, respond: {status: 200, body: \"local\\n\"}}\n"
         "  - {match: {path: /app}, backend: app}\n"
         "backends:\n  app:\n    servers: [" +
         backend + "]\n";
}

HttpResponse admin_get(const SluiceInstance& s, const std::string& path) {
  RawConnection c(s.port("admin"));
  c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port("admin")) +
         "\r\n\r\n");
  auto r = c.read_response(false, 30'000);
  return r ? *r : HttpResponse{};
}

// Client connections open and not idle, from GET /debug/memory (-1: none said).
long active_clients(const SluiceInstance& s) {
  const std::string body = admin_get(s, "/debug/memory").body;
  std::smatch m;
  if (!std::regex_search(body, m, std::regex("\"client_connections\": \\{\"active\": (\\d+)")))
    return -1;
  return std::stol(m[1].str());
}

// Polls until no client connection is active; the lingering close keeps one
// for 2 s, so a second of tries tells the two apart.
bool no_active_client_within_a_second(const SluiceInstance& s) {
  for (int tries = 0; tries < 100; ++tries) {
    const long n = active_clients(s);
    if (n == 0) return true;
    RawConnection(s.port("admin")).wait_closed(10);  // a bounded pause between polls
  }
  return false;
}

class CloseAfterResponse : public ::testing::TestWithParam<const char*> {};

TEST_P(CloseAfterResponse, AClientThatAskedToCloseIsClosedWithoutWaitingForItsFin) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config(backend.address()));
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection client(s.port("web"));
  ASSERT_TRUE(client.send(std::string("GET ") + GetParam() + " HTTP/1.0\r\nHost: x\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(client.wait_closed());
  // The client holds its end open; sluice's place for it is free already.
  EXPECT_TRUE(no_active_client_within_a_second(s)) << "still active: " << active_clients(s);
}

TEST_P(CloseAfterResponse, AClientWithBytesBehindItsRequestIsLingeredForUntilItCloses) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance s(config(backend.address()));
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection client(s.port("web"));
  // Connection: close with a second request behind it: the client may be
  // sending still, so a close now could reset the response on its way.
  const std::string request = std::string("GET ") + GetParam() + " HTTP/1.1\r\nHost: x\r\n";
  ASSERT_TRUE(client.send(request + "Connection: close\r\n\r\n" + request + "\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(client.wait_closed());                              // sluice sends no more...
  EXPECT_EQ(active_clients(s), 1);                                // ...but waits for the client
  ASSERT_TRUE(client.send("more bytes the client was sending"));  // read and dropped
  client.shutdown_write();
  EXPECT_TRUE(no_active_client_within_a_second(s)) << "still active: " << active_clients(s);
}

std::string path_name(const ::testing::TestParamInfo<const char*>& param) {
  return std::string(param.param) == "/local" ? "Respond" : "Forwarded";
}

INSTANTIATE_TEST_SUITE_P(LocalAndForwarded, CloseAfterResponse, ::testing::Values("/local", "/app"),
                         path_name);

}  // namespace
}  // namespace sluice::test
