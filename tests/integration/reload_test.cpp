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

std::string body_of(RawConnection& c, const std::string& path) {
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")) return "<send failed>";
  auto r = c.read_response();
  return r ? r->body : "<no response>";
}

TEST(Reload, SighupAppliesNewRoutesToOpenConnectionsAndKeepsWarmBackendConnections) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(reload_config(backend.address(), "v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(body_of(client, "/"), "v1");
  ASSERT_TRUE(client.send("GET /api/x HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(client.read_response());
  EXPECT_EQ(backend.accepted(), 1);

  rewrite(sluice, reload_config(backend.address(), "v2"));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  // The same client connection, idle during the reload, sees the new table.
  EXPECT_EQ(body_of(client, "/"), "v2");
  ASSERT_TRUE(client.send("GET /api/y HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(backend.accepted(), 1) << "the pooled backend connection survives the reload";
}

TEST(Reload, AnInvalidFileOrAListenerChangeLeavesTheRunningConfiguration) {
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
  EXPECT_EQ(body_of(client, "/"), "v1");

  std::string two_listeners = reload_config(backend.address(), "v3");
  two_listeners.replace(two_listeners.find("routes:"), 0,
                        "  - name: more\n    listen: 127.0.0.1:0\n");
  rewrite(sluice, two_listeners);
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("needs a restart", std::chrono::seconds(10)));
  EXPECT_EQ(body_of(client, "/"), "v1");
}

TEST(Reload, WatchReloadsWhenTheFileIsSaved) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice("watch: true\n" + reload_config(backend.address(), "v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(body_of(client, "/"), "v1");
  rewrite(sluice, "watch: true\n" + reload_config(backend.address(), "v2"));  // no signal
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  EXPECT_EQ(body_of(client, "/"), "v2");
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
    EXPECT_EQ(body_of(client, "/api/x"), "B") << i;
  EXPECT_EQ(body_of(client, "/"), "v2");
}

}  // namespace
}  // namespace sluice::test
