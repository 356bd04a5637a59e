// Issue 13 item 7: a body trickled one byte at a time held a backend
// connection, buffers and a max_connections slot for as long as each byte
// came within the idle timeout. A listener now asks for a minimum body rate
// (over the time spent waiting on the client) and, optionally, a deadline
// for the whole request; both are answered 408.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string config(const std::string& server, const std::string& listener_extra,
                   const std::string& route = "backend: app") {
  return "workers: 1\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n" +
         listener_extra +
         "routes:\n"
         "  - name: app\n"
         "    " +
         route +
         "\n"
         "backends:\n"
         "  app:\n"
         "    servers: [" +
         server + "]\n";
}

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

TEST(SlowBody, TrickledBodyGets408AndTheBackendConnectionIsClosed) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.send(make_response(200, "got " + std::to_string(r.body.size())));
  });
  SluiceInstance sluice(config(backend.address(), "    min_body_rate: {bytes: 100, per: 400ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  const auto start = Clock::now();
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nx"));
  auto r = c.read_response(false, 10'000);
  const auto elapsed = ms_since(start);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 408);
  EXPECT_GE(elapsed, 400 - kTimerEarliness.count());
  EXPECT_LT(elapsed, 3'000) << "answered by the rate window, not the 60 s idle timeout";
  EXPECT_TRUE(c.wait_closed(5'000));
  // The half-sent request never became a complete one at the backend.
  EXPECT_TRUE(backend.wait_for_closed_connections(1, 5'000));
  EXPECT_EQ(backend.requests().size(), 0u);
  EXPECT_TRUE(
      sluice.process().wait_for_line("408 Request Timeout (the request body came slower "
                                     "than min_body_rate)",
                                     std::chrono::seconds(5)))
      << sluice.process().output();
}

TEST(SlowBody, SteadyUploadAboveTheRateIsForwardedWhole) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.send(make_response(200, "got " + std::to_string(r.body.size())));
  });
  SluiceInstance sluice(config(backend.address(), "    min_body_rate: {bytes: 100, per: 300ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 800\r\n\r\n"));
  // 50 bytes every 50 ms (1000 B/s) for 0.8 s: slower than the network,
  // faster than the minimum (about 333 B/s).
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(c.send(std::string(50, 'a')));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the client's pace
  }
  auto r = c.read_response(false, 10'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "got 800");
}

TEST(SlowBody, ABackendThatReadsSlowlyDoesNotMakeTheClientSlow) {
  // The backend stops reading for a while: sluice waits on the backend, not
  // on the client, and that time does not count against the client.
  TestBackend backend([](BackendConnection& c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1'200));  // the backend's stall
    ReceivedRequest r;
    if (c.read_request(r)) c.send(make_response(200, "got " + std::to_string(r.body.size())));
  });
  SluiceInstance sluice(
      config(backend.address(), "    min_body_rate: {bytes: 1MiB, per: 300ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  const std::size_t size = 16u << 20;  // well past what socket buffers hold
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(size) +
                     "\r\n\r\n" + std::string(size, 'b')));
  auto r = c.read_response(false, 20'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "got " + std::to_string(size));
}

TEST(SlowBody, RequestDeadlineCutsAWholeRequestThatTakesTooLong) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.send(make_response(200, "ok"));
  });
  SluiceInstance sluice(config(backend.address(),
                               "    timeouts: {request: 500ms}\n"
                               "    min_body_rate: {bytes: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  const auto start = Clock::now();
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc"));
  auto r = c.read_response(false, 10'000);
  const auto elapsed = ms_since(start);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 408);
  EXPECT_GE(elapsed, 500 - kTimerEarliness.count());
  EXPECT_LT(elapsed, 3'000);
  EXPECT_EQ(backend.requests().size(), 0u);
}

TEST(SlowBody, RespondRouteAlsoAnswers408ToATrickledBody) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend.address(), "    min_body_rate: {bytes: 100, per: 400ms}\n",
                               "respond: {status: 200, body: done}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nx"));
  auto r = c.read_response(false, 10'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 408);
}

}  // namespace
}  // namespace sluice::test
