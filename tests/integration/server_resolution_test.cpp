// Servers named by host name. Issue 13 item 5: a server whose name did not
// resolve got pool key 0, the key of the first real destination; after a
// reload it could be picked (it inherited "healthy" from when its name
// resolved) and its requests then went out on pooled connections to
// another address. Now a server without an address is down, never picked
// and has no pool key; names are looked up again on reload and every
// backend's resolve_interval, and a name that moves takes new connections
// to its new address while idle ones to the old address are closed.
//
// The tests that change what a name resolves to run sluice in a private
// user and mount namespace (unshare -rm) with a file of the test's own
// bind-mounted over /etc/hosts: the machine's /etc/hosts is never touched.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

TestBackend::Script named(std::string name) {
  return [name](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (!c.send(make_response(200, name))) return;
    }
  };
}

// A hosts file the test owns, and a wrapper that runs sluice with it as
// /etc/hosts. Rewrites keep the file's inode, so the bind mount sees them.
class PrivateHosts {
 public:
  explicit PrivateHosts(const std::string& content) : path_(dir_.write("hosts", content)) {
    wrapper_ = dir_.write("sluice-with-hosts",
                          "#!/bin/sh\nexec unshare --user --map-root-user --mount sh -c "
                          "'mount --bind \"$0\" /etc/hosts && exec \"$@\"' " +
                              path_ + " " + sluice_binary() + " \"$@\"\n");
    ::chmod(wrapper_.c_str(), 0755);
  }
  // Whether this machine lets an unprivileged user do that.
  bool usable() const {
    return run_command({wrapper_, "version"}, std::chrono::seconds(20)).exit_code == 0;
  }
  void set(const std::string& content) const {
    std::ofstream out(path_, std::ios::trunc);
    out << content;
  }
  const std::string& sluice() const { return wrapper_; }

 private:
  TempDir dir_;
  std::string path_;
  std::string wrapper_;
};

void reload(SluiceInstance& sluice, std::size_t nth) {
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", nth, std::chrono::seconds(10)))
      << sluice.process().output();
}

TEST(ServerResolution, AServerWhoseNameDoesNotResolveIsDownAndNeverPicked) {
  TestBackend a(named("A"));
  TestBackend b(named("B"));
  SluiceInstance sluice(one_backend_config(
      a.address() + ", does-not-exist.invalid:" + std::to_string(a.port()) + ", " + b.address(),
      "    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_TRUE(sluice.process().wait_for_line("cannot resolve server does-not-exist.invalid"));
  for (std::size_t reloads = 0; reloads <= 1; ++reloads) {
    if (reloads > 0) reload(sluice, reloads);
    RawConnection client(sluice.port("web"));
    int a_count = 0, b_count = 0;
    for (int i = 0; i < 10; ++i) {
      const std::string body = get_body(client, "/");
      a_count += body == "A" ? 1 : 0;
      b_count += body == "B" ? 1 : 0;
    }
    EXPECT_EQ(a_count, 5) << "after " << reloads << " reload(s)";
    EXPECT_EQ(b_count, 5) << "after " << reloads << " reload(s)";
  }
}

TEST(ServerResolution, NamesThatStopResolvingAreDownAfterAReloadAndBorrowNoConnections) {
  TestBackend a(named("A"));
  TestBackend b(named("B"));
  TestBackend c(named("C"));
  PrivateHosts hosts("127.0.0.1 svc-a.test svc-b.test\n");
  if (!hosts.usable()) GTEST_SKIP() << "no unprivileged user namespaces here";
  // svc-a's address comes first, so it has the first pool key: the key the
  // unresolved servers got before.
  SluiceInstance sluice(
      one_backend_config("svc-a.test:" + std::to_string(a.port()) +
                             ", svc-b.test:" + std::to_string(b.port()) + ", " + c.address(),
                         "    retries: {attempts: 0}\n"),
      {}, hosts.sluice());
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  {
    RawConnection client(sluice.port("web"));
    std::string seen;
    for (int i = 0; i < 3; ++i)
      seen += get_body(client, "/");
    EXPECT_EQ(seen, "ABC");  // all three serve, and each has a pooled connection
  }
  hosts.set("");
  reload(sluice, 1);
  EXPECT_TRUE(sluice.process().wait_for_line("cannot resolve server svc-a.test"));
  EXPECT_TRUE(sluice.process().wait_for_line("cannot resolve server svc-b.test"));
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(get_body(client, "/"), "C") << i;
  EXPECT_EQ(a.requests().size(), 1u);
  EXPECT_EQ(b.requests().size(), 1u);
}

TEST(ServerResolution, ANameThatStopsResolvingLeavesWithinTheResolveIntervalAndComesBack) {
  TestBackend a(named("A"));
  TestBackend b(named("B"));
  PrivateHosts hosts("127.0.0.1 svc-a.test\n");
  if (!hosts.usable()) GTEST_SKIP() << "no unprivileged user namespaces here";
  const std::string svc_a = "svc-a.test:" + std::to_string(a.port());
  SluiceInstance sluice(one_backend_config(svc_a + ", " + b.address(),
                                           "    resolve_interval: 100ms\n"
                                           "    retries: {attempts: 0}\n"),
                        {}, hosts.sluice());
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/"), "A");
  EXPECT_EQ(get_body(client, "/"), "B");

  hosts.set("");
  ASSERT_TRUE(sluice.process().wait_for_line("server " + svc_a + ": no longer resolves",
                                             std::chrono::seconds(5)))
      << sluice.process().output();
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(get_body(client, "/"), "B") << i;

  hosts.set("127.0.0.1 svc-a.test\n");
  ASSERT_TRUE(sluice.process().wait_for_line("server " + svc_a + ": resolves again",
                                             std::chrono::seconds(5)))
      << sluice.process().output();
  int a_count = 0;
  for (int i = 0; i < 4; ++i)
    a_count += get_body(client, "/") == "A" ? 1 : 0;
  EXPECT_EQ(a_count, 2) << "A shares the load again";
}

TEST(ServerResolution, ANameThatMovesTakesNewConnectionsToItsNewAddressAndClosesIdleOnes) {
  TestBackend old_home(named("old"));
  TestBackend new_home(named("new"), "127.0.0.2", old_home.port());
  PrivateHosts hosts("127.0.0.1 svc.test\n");
  if (!hosts.usable()) GTEST_SKIP() << "no unprivileged user namespaces here";
  const std::string svc = "svc.test:" + std::to_string(old_home.port());
  SluiceInstance sluice(one_backend_config(svc, "    resolve_interval: 100ms\n"), {},
                        hosts.sluice());
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/"), "old");
  EXPECT_EQ(old_home.open_connections(), 1);  // pooled

  hosts.set("127.0.0.2 svc.test\n");
  ASSERT_TRUE(sluice.process().wait_for_line("server " + svc + ": now resolves to " +
                                                 new_home.address() + " (was " +
                                                 old_home.address() + ")",
                                             std::chrono::seconds(5)))
      << sluice.process().output();
  EXPECT_TRUE(old_home.wait_for_closed_connections(1, 5000)) << "the idle connection is closed";
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(get_body(client, "/"), "new") << i;
  EXPECT_EQ(old_home.requests().size(), 1u);
}

}  // namespace
}  // namespace sluice::test
