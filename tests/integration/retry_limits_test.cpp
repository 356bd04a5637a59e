// Issue 14: the edges of retrying that no test tried: attempts: 0, running
// out of attempts, the per-try timeout, a body larger than retries.max_body,
// and a reload while a request waits to be retried.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

using Clock = std::chrono::steady_clock;

// Reads each request and closes without answering.
TestBackend::Script closes_unanswered() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    c.read_request(r);
  };
}

std::optional<HttpResponse> send_one(std::uint16_t port, const std::string& request) {
  RawConnection c(port);
  if (!c.send(request)) return std::nullopt;
  return c.read_response(false, 10'000);
}

TEST(RetryLimits, AttemptsZeroSendsEachRequestOnce) {
  TestBackend backend(closes_unanswered());
  SluiceInstance sluice(one_backend_config(backend.address(), "    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = send_one(sluice.port("web"), "GET /once HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(sluice.process().count("retrying"), 0u);
}

TEST(RetryLimits, RunningOutOfAttemptsAnswers502AfterExactlyOnePlusAttemptsTries) {
  TestBackend a(closes_unanswered());
  TestBackend b(closes_unanswered());
  TestBackend c(closes_unanswered());
  SluiceInstance sluice(one_backend_config(a.address() + ", " + b.address() + ", " + c.address(),
                                           "    retries: {attempts: 2}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = send_one(sluice.port("web"), "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 502);
  // One try on each server: a retry goes to a server not yet tried.
  EXPECT_EQ(a.requests().size(), 1u);
  EXPECT_EQ(b.requests().size(), 1u);
  EXPECT_EQ(c.requests().size(), 1u);
  EXPECT_EQ(sluice.process().count("retrying GET (1 retry left)"), 1u);
  EXPECT_EQ(sluice.process().count("retrying GET (0 retries left)"), 1u);
}

TEST(RetryLimits, PerTryTimeoutMovesOnBeforeTheResponseTimeout) {
  // The first connection's request is never answered; later ones are.
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (c.index() == 1) {
        c.wait_closed(20'000);
        return;
      }
      c.send(make_response(200, "second try"));
    }
  });
  SluiceInstance sluice(one_backend_config(
      backend.address(),
      "    timeouts: {response: 10s}\n    retries: {attempts: 1, per_try_timeout: 300ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto start = Clock::now();
  auto r = send_one(sluice.port("web"), "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "second try");
  EXPECT_GE(ms, 300 - kTimerEarliness.count());
  EXPECT_LT(ms, 2'000) << "the per-try timeout, not the 10 s response timeout";
}

TEST(RetryLimits, ABodyLargerThanMaxBodyIsNotKeptAndNotResent) {
  TestBackend backend(closes_unanswered());
  SluiceInstance sluice(
      one_backend_config(backend.address(), "    retries: {attempts: 2, max_body: 1KiB}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string body(2048, 'p');
  auto r = send_one(sluice.port("web"),
                    "PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\n\r\n" + body);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 502);
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].body, body);
  // A body within max_body is resent (PUT is idempotent).
  auto small = send_one(sluice.port("web"),
                        "PUT /small HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nsome");
  ASSERT_TRUE(small) << sluice.process().output();
  EXPECT_EQ(backend.requests().size(), 4u) << "one try and two retries";
}

TEST(RetryLimits, AReloadWhileARequestWaitsForItsRetryLeavesItToFinish) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (c.index() == 1) {
        c.wait_closed(20'000);
        return;
      }
      c.send(make_response(200, "after reload"));
    }
  });
  SluiceInstance sluice(one_backend_config(
      backend.address(), "    retries: {attempts: 1, per_try_timeout: 1500ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(backend.wait_for_requests(1));
  ASSERT_EQ(::kill(sluice.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)));
  auto r = c.read_response(false, 10'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "after reload");
  EXPECT_EQ(backend.requests().size(), 2u);
}

}  // namespace
}  // namespace sluice::test
