// The command line as a user meets it: check, version, help, errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Cli, VersionPrintsTheVersion) {
  auto r = run_command({sluice_binary(), "version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.output, "sluice 0.")) << r.output;
}

TEST(Cli, HelpNamesTheCommandsAndAnExample) {
  auto r = run_command({sluice_binary(), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"run", "check", "version", "-c", "sluice.yaml", "Examples"}) {
    EXPECT_TRUE(contains(r.output, word)) << word << "\n" << r.output;
  }
}

TEST(Cli, CheckAcceptsTheQuickstart) {
  auto r =
      run_command({sluice_binary(), "check", "-c", source_dir() + "/examples/quickstart.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // The one line a good file gets: its path, "ok", and what it holds.
  EXPECT_EQ(r.output, source_dir() +
                          "/examples/quickstart.yaml: ok (2 listeners, 3 routes, 1 backend, "
                          "1 server)\n");
}

TEST(Cli, UnknownKeyIsReportedWithLineColumnAndSuggestion) {
  TempDir dir;
  // Line 7 holds the misspelt key "respnd".
  const std::string path = dir.write("bad.yaml",
                                     "listeners:\n"
                                     "  - name: web\n"
                                     "    listen: 127.0.0.1:0\n"
                                     "routes:\n"
                                     "  - name: hello\n"
                                     "    match: {path: /}\n"
                                     "    respnd: {status: 200}\n");
  auto r = run_command({sluice_binary(), "check", "-c", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, path + ":7:5")) << r.output;
  EXPECT_TRUE(contains(r.output, "respnd")) << r.output;
  EXPECT_TRUE(contains(r.output, "did you mean 'respond'")) << r.output;
}

TEST(Cli, RouteNamingAMissingBackendIsRefusedWithBothNames) {
  TempDir dir;
  const std::string path = dir.write("bad.yaml",
                                     "listeners:\n"
                                     "  - name: web\n"
                                     "    listen: 127.0.0.1:0\n"
                                     "routes:\n"
                                     "  - name: users\n"
                                     "    match: {path: /}\n"
                                     "    backend: ap\n"
                                     "backends:\n"
                                     "  app:\n"
                                     "    servers: [{address: 127.0.0.1:9}]\n");
  auto r = run_command({sluice_binary(), "check", "-c", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "users")) << r.output;
  EXPECT_TRUE(contains(r.output, "'ap'")) << r.output;
  EXPECT_TRUE(contains(r.output, path + ":7:")) << r.output;
}

TEST(Cli, EveryErrorIsPrintedNotJustTheFirst) {
  TempDir dir;
  const std::string path = dir.write("bad.yaml",
                                     "listeners:\n"
                                     "  - name: web\n"
                                     "    listen: 127.0.0.1:99999\n"
                                     "  - name: web\n"
                                     "    listen: 127.0.0.1:0\n"
                                     "    timeouts: {idle: soon}\n");
  auto r = run_command({sluice_binary(), "check", "-c", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, path + ":3:")) << r.output;  // port out of range
  EXPECT_TRUE(contains(r.output, path + ":4:")) << r.output;  // duplicate name
  EXPECT_TRUE(contains(r.output, path + ":6:")) << r.output;  // not a duration
}

TEST(Cli, WithoutConfigItSaysWhatItTried) {
  TempDir empty;
  Process p({sluice_binary()}, empty.path().string());
  const int status = p.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_TRUE(contains(p.output(), "sluice.yaml")) << p.output();
  EXPECT_TRUE(contains(p.output(), empty.path().string())) << p.output();
}

TEST(Cli, FindsSluiceYamlInTheWorkingDirectory) {
  TempDir dir;
  dir.write("sluice.yaml",
            "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
            "routes:\n  - match: {path: /}\n    respond: {status: 204}\n");
  Process p({sluice_binary(), "check"}, dir.path().string());
  const int status = p.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << p.output();
}

TEST(Cli, RunRefusesABadConfigAndExits) {
  TempDir dir;
  const std::string path = dir.write("bad.yaml", "listeners: [{name: web}]\n");
  auto r = run_command({sluice_binary(), "run", "-c", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, path + ":1:")) << r.output;
}

TEST(Cli, RunStopsGracefullyOnSigterm) {
  SluiceInstance s(
      "workers: 2\n"
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
      "routes:\n  - match: {path: /}\n    respond: {status: 200}\n");
  ASSERT_TRUE(s.ready()) << s.process().output();
  EXPECT_NE(s.port("web"), 0);
  const int status = s.process().stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << s.process().output();
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(contains(s.process().output(), "stopped")) << s.process().output();
}

TEST(Cli, ListenerThatCannotBindStopsStartUpNamingIt) {
  TempDir dir;
  // 192.0.2.1 (TEST-NET-1) is not an address of this machine: bind fails.
  const std::string path = dir.write("unbindable.yaml",
                                     "listeners:\n  - name: elsewhere\n    listen: 192.0.2.1:0\n"
                                     "routes:\n  - match: {path: /}\n    respond: {status: 200}\n");
  auto r = run_command({sluice_binary(), "run", "-c", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "elsewhere")) << r.output;
  EXPECT_TRUE(contains(r.output, "192.0.2.1")) << r.output;
}

// SIGTERM while a request is half received: the request is answered (with
// Connection: close), idle connections are closed at once, then sluice exits 0.
TEST(Cli, SigtermLetsARequestInFlightFinish) {
  // One worker: the idle connection's close then proves that the worker
  // serving the busy one has seen the stop too.
  SluiceInstance s(
      "workers: 1\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n"
      "routes:\n  - match: {path: /}\n    respond: {status: 200, body: \"done\\n\"}\n");
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection idle(s.port("web"));
  ASSERT_TRUE(idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.read_response());  // now an idle keep-alive connection
  RawConnection busy(s.port("web"));
  ASSERT_TRUE(busy.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf"));
  ::kill(s.process().pid(), SIGTERM);
  ASSERT_TRUE(s.process().wait_for_line("stopping"));
  EXPECT_TRUE(idle.wait_closed());  // idle: closed without waiting for the grace period
  ASSERT_TRUE(busy.send("-body"));
  ASSERT_TRUE(busy.send("!"));
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done\n");
  EXPECT_EQ(r->header("connection"), "close");
  // Lingering close: sluice reads until our FIN before closing its side.
  busy.shutdown_write();
  EXPECT_TRUE(busy.wait_closed());
  const int status = s.process().wait();
  ASSERT_TRUE(WIFEXITED(status)) << s.process().output();
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace sluice::test
