// Issue 13 item 7: a local failure to connect (EMFILE, EADDRNOTAVAIL) is
// not the server's fault. The client gets 503, and the server is neither
// counted as failing nor ejected: once descriptors are back it serves.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::set<int> open_descriptors(pid_t pid) {
  std::set<int> fds;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    fds.insert(std::stoi(e.path().filename().string()));
  return fds;
}

// The descriptor limit that lets one more descriptor open (the client's
// accepted connection) and refuses the next (the backend connection).
rlim_t limit_for_one_more(pid_t pid) {
  const std::set<int> fds = open_descriptors(pid);
  int free_seen = 0;
  for (int fd = 0;; ++fd) {
    if (fds.count(fd) != 0) continue;
    if (++free_seen == 2) return static_cast<rlim_t>(fd);
  }
}

// The soft limit only: raising it back needs no privilege.
bool set_descriptor_limit(pid_t pid, rlim_t n) {
  rlimit l{};
  if (prlimit(pid, RLIMIT_NOFILE, nullptr, &l) != 0) return false;
  l.rlim_cur = n;
  return prlimit(pid, RLIMIT_NOFILE, &l, nullptr) == 0;
}

TEST(LocalShortage, OutOfDescriptorsAnswers503AndNeverEjectsTheServer) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const pid_t pid = sluice.process().pid();
  rlimit before{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &before), 0);
  ASSERT_TRUE(set_descriptor_limit(pid, limit_for_one_more(pid)));
  // More tries than it takes to eject a failing server (3 in a row).
  for (int i = 0; i < 4; ++i) {
    RawConnection c(sluice.port("web"));
    ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response(false, 5'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 503);
    ASSERT_TRUE(c.wait_closed(5'000));
  }
  EXPECT_TRUE(sluice.process().wait_for_line("this host is out of descriptors or ports",
                                             std::chrono::seconds(5)));
  ASSERT_TRUE(set_descriptor_limit(pid, before.rlim_cur));
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send("GET /back HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(sluice.process().output().find("ejected"), std::string::npos)
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
