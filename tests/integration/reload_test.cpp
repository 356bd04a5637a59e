// Live reload on SIGHUP: new routes reach connections that were already
// open, warm backend connections survive, and a bad file changes nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/wrk_load.h"

namespace sluice::test {
namespace {

std::string reload_config(const std::string& backend, const std::string& greeting) {
  return R"(workers: 2
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: api
    match: {path: /api/}
    backend: app
  - name: hello
    match: {path: /}
    respond: {status: 200, body: ")" +
         greeting + R"("}
backends:
  app:
    servers: [)" +
         backend + "]\n";
}

void rewrite(const SluiceInstance& s, const std::string& yaml) {
  std::ofstream(s.config_path(), std::ios::trunc) << yaml;
}

TEST(Reload, SighupAppliesNewRoutesToOpenConnectionsAndKeepsWarmBackendConnections) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(reload_config(backend.address(), "v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/"), "v1");
  ASSERT_TRUE(client.send("GET /api/x HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(client.read_response());
  EXPECT_EQ(backend.accepted(), 1);

  rewrite(sluice, reload_config(backend.address(), "v2"));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  // The same client connection, idle during the reload, sees the new table.
  EXPECT_EQ(get_body(client, "/"), "v2");
  ASSERT_TRUE(client.send("GET /api/y HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(backend.accepted(), 1) << "the pooled backend connection survives the reload";
}

TEST(Reload, AnInvalidFileLeavesTheRunningConfiguration) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(reload_config(backend.address(), "v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  rewrite(sluice, "listeners: [\n");
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("the running configuration is unchanged",
                                             std::chrono::seconds(10)));
  EXPECT_TRUE(sluice.process().output().find("sluice.yaml:") != std::string::npos)
      << "the error names file, line and column\n"
      << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/"), "v1");

  // A regex RE2 rejects is found when the routes compile: refused too.
  std::string bad_regex = reload_config(backend.address(), "v2");
  bad_regex.replace(bad_regex.find("match: {path: /api/}"), 20, "match: {path_regex: \"(\"}");
  rewrite(sluice, bad_regex);
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_count("the running configuration is unchanged", 2,
                                              std::chrono::seconds(10)));
  EXPECT_TRUE(sluice.process().output().find("sluice.yaml:6:") != std::string::npos)
      << sluice.process().output();
  EXPECT_EQ(get_body(client, "/"), "v1");

  rewrite(sluice, "workers: 1\n" + reload_config(backend.address(), "v3").substr(11));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(
      sluice.process().wait_for_line("changing workers needs a restart", std::chrono::seconds(10)));
  EXPECT_EQ(get_body(client, "/"), "v1");
}

std::string with_listener(std::string yaml, const std::string& name) {
  yaml.replace(yaml.find("routes:"), 0, "  - name: " + name + "\n    listen: 127.0.0.1:0\n");
  return yaml;
}

TEST(Reload, AddedListenersOpenAndRemovedOnesStopAcceptingAndDrain) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(reload_config(backend.address(), "v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection web(sluice.port("web"));
  EXPECT_EQ(get_body(web, "/"), "v1");

  rewrite(sluice, with_listener(reload_config(backend.address(), "v2"), "more"));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  sluice.refresh_ports();
  const std::uint16_t more_port = sluice.port("more");
  ASSERT_NE(more_port, 0) << sluice.process().output();
  RawConnection more(more_port);
  EXPECT_EQ(get_body(more, "/"), "v2");
  EXPECT_EQ(get_body(web, "/"), "v2") << "the kept listener's connection carries on";

  // Removed again: its idle connection is closed, new ones are refused,
  // and the kept listener still serves the same connection.
  rewrite(sluice, reload_config(backend.address(), "v3"));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", 2, std::chrono::seconds(10)));
  EXPECT_TRUE(more.wait_closed(5000));
  RawConnection refused(more_port);
  EXPECT_FALSE(refused.connected() && refused.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n") &&
               refused.read_response(false, 2000))
      << "nothing accepts on a removed listener";
  EXPECT_EQ(get_body(web, "/"), "v3");
  EXPECT_EQ(sluice.process().count("listener 'web' listening on"), 1u)
      << "the kept listener never re-opened its sockets";
}

// Two listeners on port 0 are two sockets of the kernel's choosing: the
// one removed is the one that stops, whatever the order of the others.
TEST(Reload, RemovingTheFirstOfTwoPortZeroListenersClosesItsOwnSocket) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(with_listener(reload_config(backend.address(), "v1"), "more"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t web_port = sluice.port("web");
  const std::uint16_t more_port = sluice.port("more");
  ASSERT_NE(web_port, more_port);

  std::string only_more = reload_config(backend.address(), "v2");
  only_more.replace(only_more.find("name: web"), 9, "name: more");
  rewrite(sluice, only_more);
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  RawConnection more(more_port);
  EXPECT_EQ(get_body(more, "/"), "v2") << "the kept listener keeps its own port";
  RawConnection web(web_port);
  EXPECT_FALSE(web.connected() && web.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n") &&
               web.read_response(false, 2000))
      << "the removed listener's port accepts nothing";
  EXPECT_EQ(sluice.process().count("listener 'web' on 127.0.0.1:0 removed"), 1u)
      << sluice.process().output();
}

TEST(Reload, WatchReloadsWhenTheFileIsSaved) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice("watch: true\n" + reload_config(backend.address(), "v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(get_body(client, "/"), "v1");
  rewrite(sluice, "watch: true\n" + reload_config(backend.address(), "v2"));  // no signal
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  EXPECT_EQ(get_body(client, "/"), "v2");
}

TEST(Reload, AServerKnownToBeDownStaysOutAcrossAReload) {
  std::atomic<bool> a_healthy{false};
  auto named = [](std::string name, std::atomic<bool>* healthy) {
    return [name, healthy](BackendConnection& c) {
      ReceivedRequest r;
      while (c.read_request(r)) {
        if (r.target == "/health") {
          c.send(
              make_response(healthy == nullptr || *healthy ? 200 : 503, "", {"Connection: close"}));
          return;
        }
        if (!c.send(make_response(200, name))) return;
      }
    };
  };
  TestBackend a(named("A", &a_healthy));
  TestBackend b(named("B", nullptr));
  auto yaml = [&](const std::string& greeting) {
    return reload_config(a.address() + ", " + b.address(), greeting) +
           "    health_check: {path: /health, interval: 200ms, timeout: 200ms, rise: 2, fall: 1}\n";
  };
  SluiceInstance sluice(yaml("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(
      sluice.process().wait_for_line("server " + a.address() + ": down", std::chrono::seconds(10)));
  rewrite(sluice, yaml("v2"));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)));
  // At once after the reload, before any new check has run: B only.
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(get_body(client, "/api/x"), "B") << i;
  EXPECT_EQ(get_body(client, "/"), "v2");
}

TEST(Reload, AHundredReloadsUnderLoadLoseNoRequestAndKeepPooledConnections) {
  TestBackend a(TestBackend::echo());
  TestBackend b(TestBackend::echo());
  // Reload i: every other one changes a route; some add a listener and
  // remove it again, some add a second server and remove it again.
  auto config_for = [&](int i) {
    const bool extra_listener = i % 10 >= 3 && i % 10 < 6;
    const bool extra_server = i % 10 >= 5 && i % 10 < 8;
    std::string yaml = reload_config(a.address() + (extra_server ? ", " + b.address() : ""),
                                     "v" + std::to_string(i / 2));
    return extra_listener ? with_listener(yaml, "extra") : yaml;
  };
  SluiceInstance sluice(config_for(0));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/api/load";
  WrkLoad load(url, 8);
  ASSERT_TRUE(a.wait_for_requests(100)) << "the load is running";
  int extra_served = 0;
  for (int i = 1; i <= 100; ++i) {
    rewrite(sluice, config_for(i));
    ::kill(sluice.process().pid(), SIGHUP);
    ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", static_cast<std::size_t>(i),
                                                std::chrono::seconds(10)))
        << "reload " << i << "\n"
        << sluice.process().output();
    if (i % 10 == 4) {  // the extra listener is open: it serves
      sluice.refresh_ports();
      RawConnection extra(sluice.port("extra"));
      extra_served += get_body(extra, "/") == "v" + std::to_string(i / 2) ? 1 : 0;
    }
  }
  const WrkSummary summary = load.finish();
  ASSERT_TRUE(summary.parsed) << summary.output;
  EXPECT_GT(summary.requests, 1000) << summary.output;
  EXPECT_EQ(summary.socket_errors, 0) << summary.output;
  EXPECT_EQ(summary.non_2xx, 0) << summary.output;
  EXPECT_EQ(extra_served, 10);
  EXPECT_EQ(sluice.process().count("reload: applied"), 100u);
  // 8 client connections need at most 8 backend connections at a time (a
  // couple more while a connection moves between workers); a pool that
  // did not survive reloads would open new ones after each of the 100.
  EXPECT_LE(a.accepted(), 16) << "backend connections to the unchanged server were re-opened";
  EXPECT_GT(b.accepted(), 0) << "the server added by reloads got traffic";
}

}  // namespace
}  // namespace sluice::test
