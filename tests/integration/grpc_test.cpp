// gRPC end to end through sluice (issue 17): a Python grpcio client
// speaking h2c to sluice's listener, sluice speaking h2c to a Python
// grpcio server (tests/support/grpc). Unary, client-, server- and
// bidirectional streaming; a non-OK status with its message and custom
// trailing metadata intact; and a large server stream to a client that
// stops reading, which must not make sluice buffer it (flow-control
// windows follow sluice's buffers).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

std::string grpc_script(const char* name) {
  return source_dir() + "/tests/support/grpc/" + name;
}

// The Python gRPC server, on a port from the kernel.
class GrpcServer {
 public:
  GrpcServer() : process_({kPython, grpc_script("server.py")}) {
    const auto line = process_.wait_for_line("PORT ", std::chrono::seconds(30));
    if (line) port_ = std::stoi(line->substr(line->find("PORT ") + 5));
  }
  std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  Process& process() { return process_; }

 private:
  Process process_;
  int port_ = 0;
};

struct GrpcThroughSluice : ::testing::Test {
  void SetUp() override {
    ASSERT_NE(server.port(), 0) << server.process().output();
    sluice = std::make_unique<SluiceInstance>(
        one_backend_config(server.address(), "    protocol: h2c\n"));
    ASSERT_TRUE(sluice->ready()) << sluice->process().output();
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(sluice->port("web")); }
  CommandResult call(const std::string& what, const std::string& arg = "") {
    std::vector<std::string> argv{kPython, grpc_script("client.py"), target(), what};
    if (!arg.empty()) argv.push_back(arg);
    return run_command(argv, std::chrono::seconds(90));
  }

  GrpcServer server;
  std::unique_ptr<SluiceInstance> sluice;
};

TEST_F(GrpcThroughSluice, UnaryCallAnswers) {
  const CommandResult r = call("unary");
  EXPECT_EQ(r.exit_code, 0) << r.output << sluice->process().output();
  EXPECT_NE(r.output.find("unary echo:hello"), std::string::npos) << r.output;
}

TEST_F(GrpcThroughSluice, ClientStreamingCallGetsEveryMessage) {
  const CommandResult r = call("collect");
  EXPECT_EQ(r.exit_code, 0) << r.output << sluice->process().output();
  EXPECT_NE(r.output.find("collect a,b,c"), std::string::npos) << r.output;
}

TEST_F(GrpcThroughSluice, ServerStreamingCallDeliversEveryMessageInOrder) {
  const CommandResult r = call("count", "500:3000");
  EXPECT_EQ(r.exit_code, 0) << r.output << sluice->process().output();
  EXPECT_NE(r.output.find("count 500 messages, 1500000 bytes, ok"), std::string::npos) << r.output;
}

TEST_F(GrpcThroughSluice, BidirectionalStreamingCallAnswersEachMessage) {
  const CommandResult r = call("chat");
  EXPECT_EQ(r.exit_code, 0) << r.output << sluice->process().output();
  EXPECT_NE(r.output.find("chat re:1 re:2 re:3"), std::string::npos) << r.output;
}

TEST_F(GrpcThroughSluice, ErrorStatusMessageAndTrailingMetadataArriveIntact) {
  const CommandResult r = call("fail");
  EXPECT_EQ(r.exit_code, 0) << r.output << sluice->process().output();
  EXPECT_NE(r.output.find("fail FAILED_PRECONDITION 'not today' x-why=because x-bin-bin=0001"),
            std::string::npos)
      << r.output;
}

std::uint64_t resident_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// 100 MiB streamed to a client that reads one message and then nothing: the
// server gets no further than the windows along the way allow, and sluice's
// memory stays flat; once the client reads again, every byte arrives.
TEST_F(GrpcThroughSluice, SlowReaderOfALargeStreamKeepsSluiceMemoryBounded) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "resident sizes mean nothing under ASan";
#endif
  ASSERT_EQ(call("unary").exit_code, 0);  // the h2 connections exist
  TempDir dir;
  const std::string fifo = (dir.path() / "go").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  constexpr int kMessages = 1600;  // of 64 KiB: 100 MiB
  Process client({kPython, grpc_script("client.py"), target(), "slow",
                  std::to_string(kMessages) + ":65536", fifo});
  ASSERT_TRUE(client.wait_for_line("first", std::chrono::seconds(30)))
      << client.output() << sluice->process().output();
  const std::uint64_t before_kib = resident_kib(sluice->process().pid());
  // Unbounded buffering would let the whole stream through in well under
  // this; bounded, the server stops long before its end.
  EXPECT_FALSE(server.process().wait_for_line("done", std::chrono::seconds(3)))
      << "the server sent the whole stream to a client that reads nothing";
  const std::uint64_t after_kib = resident_kib(sluice->process().pid());
  EXPECT_LT(after_kib, before_kib + 16 * 1024)
      << "sluice grew from " << before_kib << " KiB to " << after_kib << " KiB";
  {
    std::ofstream go(fifo);
    go << "go\n";
  }
  EXPECT_TRUE(
      client.wait_for_line("count 1600 messages, 104857600 bytes, ok", std::chrono::seconds(60)))
      << client.output();
}

}  // namespace
}  // namespace sluice::test
