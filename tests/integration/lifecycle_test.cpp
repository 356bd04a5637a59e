// Process lifecycle under traffic: SIGTERM lets a slow download finish
// within the grace period; SIGUSR2 swaps the binary (handing over the
// listening sockets) without failing a request.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <regex>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/h2_frames.h"
#include "support/http_client.h"
#include "support/test_backend.h"
#include "support/wrk_load.h"

namespace sluice::test {
namespace {

std::string proxy_config(const std::string& backend, const std::string& grace) {
  return one_backend_config(backend, "", 2,
                            "admin: {listen: 127.0.0.1:0}\nshutdown: {grace: " + grace + "}\n");
}

TEST(Lifecycle, SigtermLetsASlowDownloadFinishAndClosesIdleClients) {
  std::promise<void> stopping;
  std::shared_future<void> go = stopping.get_future().share();
  const std::string piece(64 * 1024, 'x');
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target != "/slow") {
        c.send(make_response(200, "fast"));
        continue;
      }
      // Half the body, then the rest once the proxy is stopping.
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(4 * piece.size()) + "\r\n\r\n" +
             piece + piece);
      go.wait();
      c.send(piece);
      c.send(piece);
    }
  });
  SluiceInstance sluice(proxy_config(backend.address(), "10s"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection idle(sluice.port("web"));
  ASSERT_TRUE(idle.send("GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(idle.read_response());
  RawConnection download(sluice.port("web"));
  ASSERT_TRUE(download.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(backend.wait_for_requests(2));

  const auto signalled = std::chrono::steady_clock::now();
  ::kill(sluice.process().pid(), SIGTERM);
  ASSERT_TRUE(sluice.process().wait_for_line("stopping; open connections have"));
  EXPECT_TRUE(idle.wait_closed(5000)) << "an idle keep-alive client is told by a close";
  stopping.set_value();
  auto r = download.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->body.size(), 4 * piece.size());
  const int status = sluice.process().wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process().output();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(10))
      << "it exits when the download ends, within the grace period";
}

// Reaps the successor: orphans of our children become ours.
class SubreaperScope {
 public:
  SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~SubreaperScope() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  void adopt(pid_t pid) { pid_ = pid; }
  // Stops the adopted process with `sig`; its exit status.
  int stop(int sig) {
    int status = -1;
    ::kill(pid_, sig);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

TEST(Lifecycle, SigusrTwoSwapsTheBinaryUnderLoadWithoutAFailedRequest) {
  SubreaperScope reaper;
  TestBackend backend(TestBackend::echo());
  // Run a copy, so that the file at its path can be replaced like a
  // package upgrade does (a new inode at the same path).
  TempDir bin;
  const std::filesystem::path binary = bin.path() / "sluice";
  std::filesystem::copy_file(sluice_binary(), binary);
  SluiceInstance sluice(proxy_config(backend.address(), "10s"), {}, binary.string());
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::filesystem::remove(binary);
  std::filesystem::copy_file(sluice_binary(), binary);
  struct stat replaced {};
  ASSERT_EQ(::stat(binary.c_str(), &replaced), 0);

  const std::string url = "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/load";
  WrkLoad load(url, 8);
  ASSERT_TRUE(backend.wait_for_requests(200));
  ::kill(sluice.process().pid(), SIGUSR2);
  const auto line = sluice.process().wait_for_line("is serving; this one stops accepting");
  ASSERT_TRUE(line) << sluice.process().output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*line, m, std::regex(R"(process (\d+) is serving)")));
  const pid_t successor = std::stoi(m[1].str());
  reaper.adopt(successor);
  // The predecessor drains and exits 0 while the load goes on.
  const int status = sluice.process().wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process().output();
  const std::size_t before = backend.requests().size();
  ASSERT_TRUE(backend.wait_for_requests(before + 2000)) << "the successor serves the load";
  const WrkSummary summary = load.finish();
  ASSERT_TRUE(summary.parsed) << summary.output;
  EXPECT_EQ(summary.socket_errors, 0) << summary.output;
  EXPECT_EQ(summary.non_2xx, 0) << summary.output;

  // It is the new file that runs, on the same ports (admin included).
  struct stat running {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(successor) + "/exe").c_str(), &running), 0);
  EXPECT_EQ(running.st_ino, replaced.st_ino);
  RawConnection admin(sluice.port("admin"));
  ASSERT_TRUE(admin.send("GET /debug/memory HTTP/1.1\r\nHost: 127.0.0.1:" +
                         std::to_string(sluice.port("admin")) + "\r\n\r\n"));
  auto memory = admin.read_response();
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->status, 200);
  const int successor_status = reaper.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(successor_status) && WEXITSTATUS(successor_status) == 0);
}

// SIGUSR2 with an HTTP/2 client whose stream is still waiting on the
// backend: the predecessor tells the connection to go (GOAWAY, naming the
// stream as processed), finishes the stream, and exits 0; the client's next
// connection is served by the successor.
TEST(Lifecycle, SigusrTwoLetsAnHttp2StreamInFlightFinish) {
  SubreaperScope reaper;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  TestBackend backend([released](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/slow") released.wait();
      if (!c.send(make_response(200, "done " + r.target))) return;
    }
  });
  SluiceInstance sluice(proxy_config(backend.address(), "10s"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  h2::H2Connection client(port);
  ASSERT_TRUE(client.handshake());
  const std::uint32_t slow =
      client.open_stream(h2::request_fields("GET", "127.0.0.1", "/slow"), true);
  ASSERT_NE(slow, 0u);
  ASSERT_TRUE(backend.wait_for_requests(1));

  ::kill(sluice.process().pid(), SIGUSR2);
  const auto line = sluice.process().wait_for_line("is serving; this one stops accepting");
  ASSERT_TRUE(line) << sluice.process().output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*line, m, std::regex(R"(process (\d+) is serving)")));
  reaper.adopt(std::stoi(m[1].str()));

  const auto goaway = client.wait_goaway();
  ASSERT_TRUE(goaway) << "the predecessor never told the client to go";
  EXPECT_GE(goaway->last_stream_id, slow);
  release.set_value();
  const h2::StreamResult result = client.wait_stream(slow);
  EXPECT_EQ(result.status(), 200);
  EXPECT_EQ(result.body, "done /slow");
  EXPECT_FALSE(result.reset);
  const int status = sluice.process().wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process().output();

  h2::H2Connection next(port);
  ASSERT_TRUE(next.handshake());
  const h2::StreamResult after = next.request(h2::request_fields("GET", "127.0.0.1", "/after"));
  EXPECT_EQ(after.status(), 200);
  EXPECT_EQ(after.body, "done /after");
  const int successor_status = reaper.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(successor_status) && WEXITSTATUS(successor_status) == 0);
}

}  // namespace
}  // namespace sluice::test
