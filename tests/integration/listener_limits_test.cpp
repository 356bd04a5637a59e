// Issue 13, item 7 (slow and greedy clients): a listener's max_connections
// caps its open client connections across workers; at the cap new
// connections wait in the kernel's accept queue and are served as soon as
// one closes. When accept() runs out of descriptors sluice pauses, logs once
// a second, uses no CPU, and serves again once descriptors free up.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/proc_stat.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// How long a client at the cap is watched for an answer that must not come.
constexpr int kNoAnswerMs = 500;

std::string capped_config(const std::string& cap_line, int workers, const std::string& body) {
  return "workers: " + std::to_string(workers) + R"(
listeners:
  - name: web
    listen: 127.0.0.1:0
)" + cap_line +
         R"(routes:
  - name: hello
    respond: {status: 200, body: ")" +
         body + "\"}\n";
}

std::string cap_of(int n) {
  return "    max_connections: " + std::to_string(n) + "\n";
}

void rewrite_and_reload(SluiceInstance& sluice, const std::string& yaml, std::size_t nth) {
  std::ofstream(sluice.config_path(), std::ios::trunc) << yaml;
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", nth, seconds(10)))
      << sluice.process().output();
}

// Clients that have each had one answer, so sluice has accepted them all,
// and then stay open and idle.
std::vector<std::unique_ptr<RawConnection>> served_idle_clients(std::uint16_t port, int n) {
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<RawConnection>(port));
    EXPECT_EQ(get_body(*clients.back(), "/"), "ok") << "client " << i;
  }
  return clients;
}

const std::string kGet = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

// With two workers the four clients land on either; the count is shared.
TEST(ListenerLimits, ClientOverMaxConnectionsIsServedOnlyOnceAnotherCloses) {
  SluiceInstance sluice(capped_config(cap_of(3), 2, "ok"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto first = served_idle_clients(sluice.port("web"), 3);

  RawConnection fourth(sluice.port("web"));
  ASSERT_TRUE(fourth.connected()) << "the kernel queues it";
  ASSERT_TRUE(fourth.send(kGet));
  EXPECT_FALSE(fourth.read_response(false, kNoAnswerMs)) << "answered over the cap";
  EXPECT_TRUE(
      sluice.process().wait_for_line("listener 'web' reached max_connections (3)", seconds(5)))
      << sluice.process().output();

  first[1].reset();  // one closes: the fourth is served
  auto r = fourth.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  // And the ones still open were never disturbed.
  EXPECT_EQ(get_body(*first[0], "/"), "ok");
  EXPECT_EQ(get_body(*first[2], "/"), "ok");
}

TEST(ListenerLimits, ReloadKeepingTheListenerKeepsItsCountOfOpenConnections) {
  SluiceInstance sluice(capped_config(cap_of(3), 2, "ok"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto first = served_idle_clients(sluice.port("web"), 3);
  rewrite_and_reload(sluice, capped_config(cap_of(3), 2, "v2"), 1);

  RawConnection fourth(sluice.port("web"));
  ASSERT_TRUE(fourth.send(kGet));
  EXPECT_FALSE(fourth.read_response(false, kNoAnswerMs))
      << "the reload forgot the three open connections";
  first[0].reset();
  auto r = fourth.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->body, "v2");
}

TEST(ListenerLimits, ReloadRaisingMaxConnectionsServesTheClientWaitingAtTheCap) {
  SluiceInstance sluice(capped_config(cap_of(2), 1, "ok"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto first = served_idle_clients(sluice.port("web"), 2);
  RawConnection third(sluice.port("web"));
  ASSERT_TRUE(third.send(kGet));
  EXPECT_FALSE(third.read_response(false, kNoAnswerMs)) << "answered over the cap";

  rewrite_and_reload(sluice, capped_config(cap_of(3), 1, "ok"), 1);
  auto r = third.read_response(false, 5'000);
  ASSERT_TRUE(r) << "still waiting with room under the new cap\n" << sluice.process().output();
  EXPECT_EQ(r->status, 200);
}

TEST(ListenerLimits, StopWhileWorkersWaitAtTheCapExitsCleanly) {
  SluiceInstance sluice(capped_config(cap_of(1), 2, "ok"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto first = served_idle_clients(sluice.port("web"), 1);
  RawConnection second(sluice.port("web"));
  ASSERT_TRUE(second.send(kGet));
  ASSERT_TRUE(sluice.process().wait_for_line("reached max_connections", seconds(5)));
  const int status = sluice.process().stop(SIGTERM, seconds(10));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process().output();
}

bool wait_for_accepted(const TestBackend& backend, int n, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (backend.accepted() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));  // polling an event counter, bounded above
  }
  return true;
}

TEST(ListenerLimits, TcpListenerOverMaxConnectionsReachesTheBackendOnlyOnceAnotherCloses) {
  TestBackend backend([](BackendConnection& c) { c.wait_closed(30'000); });
  SluiceInstance sluice(R"(workers: 2
listeners:
  - name: db
    listen: 127.0.0.1:0
    protocol: tcp
    backend: db
    max_connections: 1
backends:
  db:
    servers: [)" + backend.address() +
                        "]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto first = std::make_unique<RawConnection>(sluice.port("db"));
  ASSERT_TRUE(wait_for_accepted(backend, 1, seconds(5)));
  RawConnection second(sluice.port("db"));
  ASSERT_TRUE(second.connected());
  EXPECT_FALSE(wait_for_accepted(backend, 2, milliseconds(kNoAnswerMs)))
      << "a second tunnel opened over the cap";
  first.reset();
  EXPECT_TRUE(wait_for_accepted(backend, 2, seconds(5))) << sluice.process().output();
}

// ---- running out of descriptors

// The descriptor limit that leaves `pid` exactly `room` free descriptors:
// RLIMIT_NOFILE bounds descriptor numbers, and new ones take the lowest
// free number, so the gaps below the limit are what is left.
rlim_t limit_leaving(pid_t pid, int room) {
  std::vector<bool> used;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    const auto fd = std::stoul(e.path().filename().string());
    if (used.size() <= fd) used.resize(fd + 1);
    used[fd] = true;
  }
  rlim_t limit = 0;
  for (int free = 0; free < room; ++limit)
    free += limit < used.size() && used[limit] ? 0 : 1;
  return limit;
}

TEST(ListenerLimits, OutOfDescriptorsPausesAcceptingLogsOnceASecondAndRecovers) {
  SluiceInstance sluice(capped_config("", 1, "ok"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Process& proc = sluice.process();
  // Room for three client connections, no more.
  const rlim_t room = limit_leaving(proc.pid(), 3);
  const rlimit few{room, room};
  ASSERT_EQ(::prlimit(proc.pid(), RLIMIT_NOFILE, &few, nullptr), 0);

  auto served = served_idle_clients(sluice.port("web"), 3);
  std::vector<std::unique_ptr<RawConnection>> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(waiting.back()->send(kGet));
  }
  const std::string failure = "Too many open files";
  const auto line = proc.wait_for_line(failure, seconds(5));
  ASSERT_TRUE(line) << proc.output();
  EXPECT_NE(line->find("accepting paused for 100 ms"), std::string::npos) << *line;

  // A measurement window, not a synchronisation: while descriptors stay
  // exhausted, sluice logs at most once a second and stays idle.
  const std::size_t lines_before = proc.count(failure);
  const long ticks_before = cpu_ticks(proc.pid());
  const auto window = milliseconds(2'500);
  std::this_thread::sleep_for(window);
  const std::size_t lines = proc.count(failure) - lines_before;
  const long ticks = cpu_ticks(proc.pid()) - ticks_before;
  EXPECT_LE(lines, 3u) << proc.output();
  EXPECT_GE(lines, 2u) << "it keeps saying so while it lasts\n" << proc.output();
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  EXPECT_LT(ticks, ticks_per_second / 4)
      << "CPU used while paused, in ticks of 1/" << ticks_per_second << " s";
  EXPECT_FALSE(waiting.front()->read_response(false, 0)) << "served past the descriptor limit";

  served.clear();
  waiting.clear();
  RawConnection later(sluice.port("web"));
  EXPECT_EQ(get_body(later, "/"), "ok") << proc.output();
  EXPECT_TRUE(proc.running());
}

}  // namespace
}  // namespace sluice::test
