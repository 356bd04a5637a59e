// busy_poll (issue 20, keep-alive): a worker whose idle spells keep ending
// within the window polls for its next event instead of sleeping, and stops
// polling once they no longer do. What an operator sees: under a steady
// load the workers stop sleeping (and waking) per request; with busy_poll
// off, or once the load stops, they sleep as before and an idle sluice uses
// no CPU. A reload changes it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/proc_stat.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

constexpr int kRequests = 2000;

// What these tests watch is time: how often a worker sleeps, and the CPU it
// uses while nothing happens. Under ASan every event costs sluice several
// times more, so a backend's answer is often waiting before the worker
// could sleep (0.83 sleeps per request with polling off, in a full ASan
// run), and the sanitizer's own allocator work shows as CPU in an idle
// half second. The normal build runs them.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// A backend that answers every request on a connection at once.
TestBackend quick_backend() {
  return TestBackend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (!c.send(make_response(200, "ok"))) return;
    }
  });
}

// Sleeps per request of sluice's process over `kRequests` requests, one
// after another on one keep-alive connection. -1 when a request failed.
double sleeps_per_request(SluiceInstance& sluice) {
  RawConnection client(sluice.port("web"));
  const auto one = [&] {
    if (!client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")) return false;
    const auto r = client.read_response();
    return r && r->status == 200;
  };
  for (int i = 0; i < 100; ++i)  // warm: the pooled connection exists, the window opened
    if (!one()) return -1;
  const long before = voluntary_switches(sluice.process().pid());
  for (int i = 0; i < kRequests; ++i)
    if (!one()) return -1;
  return static_cast<double>(voluntary_switches(sluice.process().pid()) - before) / kRequests;
}

std::string config_with(const TestBackend& backend, const std::string& busy_poll) {
  return one_backend_config(backend.address(), "", 1, "busy_poll: " + busy_poll + "\n");
}

// Each request leaves the worker idle twice (waiting for the backend, then
// for the client's next request), and each spell here is a few tens of
// microseconds: with 1ms of polling the worker catches nearly every event
// awake; without, it sleeps through nearly every spell.
TEST(BusyPoll, UnderASteadyLoadAPollingWorkerStopsSleepingPerRequestAndAReloadTurnsItOff) {
  if (kSanitized) GTEST_SKIP() << "timing under ASan says nothing of the normal build";
  TestBackend backend = quick_backend();
  SluiceInstance sluice(config_with(backend, "1ms"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  const double polling = sleeps_per_request(sluice);
  ASSERT_GE(polling, 0) << sluice.process().output();
  EXPECT_LT(polling, 0.5) << "with busy_poll: 1ms, sleeps per request";

  std::ofstream(sluice.config_path(), std::ios::trunc) << config_with(backend, "false");
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", seconds(10)))
      << sluice.process().output();
  const double sleeping = sleeps_per_request(sluice);
  ASSERT_GE(sleeping, 0);
  EXPECT_GT(sleeping, 1.0) << "with busy_poll: false, sleeps per request";
}

// Polling is for the moment between events: once the requests stop, a
// worker that was polling goes to sleep, and the process uses no CPU while
// nothing happens.
TEST(BusyPoll, WhenTheLoadStopsAPollingWorkerSleepsAndUsesNoCpu) {
  if (kSanitized) GTEST_SKIP() << "timing under ASan says nothing of the normal build";
  TestBackend backend = quick_backend();
  SluiceInstance sluice(config_with(backend, "1ms"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const double polling = sleeps_per_request(sluice);
  ASSERT_GE(polling, 0);
  ASSERT_LT(polling, 0.5) << "the worker was polling";

  // Half a second with nothing to do (a measurement window, not a wait for
  // an event): a worker still polling would spend all of it on a CPU.
  const pid_t pid = sluice.process().pid();
  const long ticks_before = cpu_ticks(pid);
  const long hz = ::sysconf(_SC_CLK_TCK);
  ::usleep(500'000);
  const long used = cpu_ticks(pid) - ticks_before;
  EXPECT_LE(used, hz / 20) << "CPU ticks in 0.5 s of nothing (" << hz << " a second)";
}

}  // namespace
}  // namespace sluice::test
