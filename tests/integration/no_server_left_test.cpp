// Every path that picks a server can find none: the client gets 503 (504
// when a timeout started it) with a log line, and sluice goes on serving.
// Issue 13 item 1: a retry after a response timeout found the only server
// marked down by its health check and used index -1 (segfault).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Answers health checks 200 until the first real request arrives; from then
// on real requests are never answered and health checks get 503, so the
// server goes down while a request waits for its answer.
TestBackend::Script healthy_until_a_request_hangs(std::atomic<bool>& hanging) {
  return [&hanging](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r, 20'000)) {
      if (r.target == "/health") {
        c.send(make_response(hanging ? 503 : 200, "h"));
        continue;
      }
      hanging = true;
      c.wait_closed(20'000);  // never answer: hold the connection until sluice gives up
      return;
    }
  };
}

std::string health_and_retry(const std::string& response_timeout) {
  return "    timeouts: {response: " + response_timeout +
         "}\n"
         "    retries: {attempts: 2}\n"
         "    health_check: {path: /health, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}\n";
}

TEST(NoServerLeft, RetryAfterTimeoutWithEveryServerDownAnswers504AndKeepsServing) {
  std::atomic<bool> hanging{false};
  TestBackend backend(healthy_until_a_request_hangs(hanging));
  SluiceInstance sluice(one_backend_config(backend.address(), health_and_retry("1500ms")));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // The check has seen the server up before the request goes.
  ASSERT_TRUE(backend.wait_for_requests(1)) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response(false, 15'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 504);
  EXPECT_TRUE(
      sluice.process().wait_for_line("504 Gateway Timeout (the server did not answer in "
                                     "time; no other server is usable)",
                                     std::chrono::seconds(5)))
      << sluice.process().output();
  // Still serving: the next request is told at once that no server is up.
  RawConnection next(sluice.port("web"));
  ASSERT_TRUE(next.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto n = next.read_response(false, 5'000);
  ASSERT_TRUE(n) << sluice.process().output();
  EXPECT_EQ(n->status, 503);
  EXPECT_TRUE(sluice.process().running());
}

}  // namespace
}  // namespace sluice::test
