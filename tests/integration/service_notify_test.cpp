// Running under systemd (Type=notify): sluice tells the service manager
// when it serves, reloads and stops, through sd_notify's datagrams to
// $NOTIFY_SOCKET, here a unix datagram socket the test owns.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "service_fixtures.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

using Message = std::map<std::string, std::string>;  // KEY=VALUE lines of one datagram

// The service manager's end: a unix datagram socket, named by a path in a
// temporary directory or (abstract) by '@' and a name.
class NotifySocket {
 public:
  explicit NotifySocket(bool abstract = false) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t length = 0;
    if (abstract) {
      name_ = "@sluice-notify-test-" + std::to_string(::getpid());
      std::memcpy(addr.sun_path + 1, name_.data() + 1, name_.size() - 1);
      length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    } else {
      name_ = (dir_.path() / "notify").string();
      std::memcpy(addr.sun_path, name_.data(), name_.size());
      length = sizeof addr;
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) != 0) {
      ADD_FAILURE() << "bind " << name_ << ": " << std::strerror(errno);
    }
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& name() const { return name_; }

  // The next datagram, or nullopt after `timeout_ms`.
  std::optional<Message> next(int timeout_ms = 20'000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    Message m;
    const std::string text(buf, static_cast<std::size_t>(n));
    std::size_t begin = 0;
    while (begin < text.size()) {
      std::size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(begin, end - begin);
      const std::size_t eq = line.find('=');
      m[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
      begin = end + 1;
    }
    received_.push_back(m);
    return m;
  }
  // Every datagram received so far, in order.
  const std::vector<Message>& received() const { return received_; }

 private:
  TempDir dir_;
  std::string name_;
  int fd_ = -1;
  std::vector<Message> received_;
};

// Sets an environment variable for the processes a test starts.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
}

// The port in the last line of `output` matching `pattern` (one group).
std::uint16_t port_in(const std::string& output, const std::string& pattern) {
  std::uint16_t port = 0;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(output.begin(), output.end(), re);
       it != std::sregex_iterator(); ++it)
    port = static_cast<std::uint16_t>(std::stoi((*it)[1].str()));
  return port;
}

// sluice started on `yaml` (in a fresh directory) with NOTIFY_SOCKET set;
// nothing waits for its log: the datagrams say when it is ready.
struct NotifiedSluice {
  NotifiedSluice(NotifySocket& notify, const std::string& yaml,
                 const std::string& binary = sluice_binary())
      : config(dir.write("sluice.yaml", yaml)) {
    ScopedEnv env("NOTIFY_SOCKET", notify.name());
    process = std::make_unique<Process>(std::vector<std::string>{binary, "run", "-c", config},
                                        dir.path().string());
  }
  TempDir dir;
  std::string config;
  std::unique_ptr<Process> process;
};

TEST(ServiceNotify, ReadyComesOnceEveryListenerAnswersAndNamesTheMainPid) {
  NotifySocket notify;
  NotifiedSluice sluice(notify, hello_config("hello"));
  const auto ready = notify.next();
  ASSERT_TRUE(ready) << "no datagram; output:\n" << sluice.process->output();
  EXPECT_EQ(ready->count("READY") ? ready->at("READY") : "", "1");
  EXPECT_EQ(ready->count("MAINPID") ? ready->at("MAINPID") : "",
            std::to_string(sluice.process->pid()));
  EXPECT_NE(ready->count("STATUS") ? ready->at("STATUS") : "", "");
  // At READY=1, and not a moment later, both listeners answer.
  const std::string& out = sluice.process->output();
  const std::uint16_t web = port_in(out, R"(listener 'web' listening on 127\.0\.0\.1:(\d+))");
  const std::uint16_t admin = port_in(out, R"(admin listening on 127\.0\.0\.1:(\d+))");
  ASSERT_NE(web, 0) << out;
  ASSERT_NE(admin, 0) << out;
  const auto hello = get(web, "/");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "hello");
  const auto memory = get(admin, "/debug/memory");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->status, 200);
}

TEST(ServiceNotify, AnAbstractNotifySocketIsReachedToo) {
  NotifySocket notify(true);
  NotifiedSluice sluice(notify, hello_config("hello"));
  const auto ready = notify.next();
  ASSERT_TRUE(ready) << "no datagram; output:\n" << sluice.process->output();
  EXPECT_EQ(ready->count("READY") ? ready->at("READY") : "", "1");
}

TEST(ServiceNotify, AReloadIsReloadingUntilReadyAgainWhetherAppliedOrRefused) {
  NotifySocket notify;
  NotifiedSluice sluice(notify, hello_config("hello"));
  ASSERT_TRUE(notify.next()) << sluice.process->output();
  const std::uint16_t web =
      port_in(sluice.process->output(), R"(listener 'web' listening on 127\.0\.0\.1:(\d+))");
  ASSERT_NE(web, 0);

  // Applied: RELOADING=1 stamped with the monotonic clock, then READY=1,
  // by which time the new configuration answers.
  sluice.dir.write("sluice.yaml", hello_config("reloaded"));
  const std::uint64_t before = monotonic_usec();
  ::kill(sluice.process->pid(), SIGHUP);
  const auto reloading = notify.next();
  ASSERT_TRUE(reloading) << sluice.process->output();
  EXPECT_EQ(reloading->count("RELOADING") ? reloading->at("RELOADING") : "", "1");
  ASSERT_EQ(reloading->count("MONOTONIC_USEC"), 1u);
  const std::uint64_t stamp = std::stoull(reloading->at("MONOTONIC_USEC"));
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, monotonic_usec());
  const auto applied = notify.next();
  ASSERT_TRUE(applied) << sluice.process->output();
  EXPECT_EQ(applied->count("READY") ? applied->at("READY") : "", "1");
  EXPECT_NE(applied->count("STATUS") ? applied->at("STATUS") : "", "");
  const auto hello = get(web, "/");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->body, "reloaded");

  // Refused (a broken file): the same pair, and the old configuration serves.
  sluice.dir.write("sluice.yaml", "listeners: [");
  ::kill(sluice.process->pid(), SIGHUP);
  const auto again = notify.next();
  ASSERT_TRUE(again) << sluice.process->output();
  EXPECT_EQ(again->count("RELOADING") ? again->at("RELOADING") : "", "1");
  const auto refused = notify.next();
  ASSERT_TRUE(refused) << sluice.process->output();
  EXPECT_EQ(refused->count("READY") ? refused->at("READY") : "", "1");
  EXPECT_NE(refused->count("STATUS") ? refused->at("STATUS").find("refused") : std::string::npos,
            std::string::npos);
  EXPECT_TRUE(sluice.process->wait_for_line("the running configuration is unchanged"));
  const auto still = get(web, "/");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->body, "reloaded");
}

TEST(ServiceNotify, SigtermSaysStoppingAndExitsCleanly) {
  NotifySocket notify;
  NotifiedSluice sluice(notify, hello_config("hello"));
  ASSERT_TRUE(notify.next()) << sluice.process->output();
  ::kill(sluice.process->pid(), SIGTERM);
  const auto stopping = notify.next();
  ASSERT_TRUE(stopping) << sluice.process->output();
  EXPECT_EQ(stopping->count("STOPPING") ? stopping->at("STOPPING") : "", "1");
  const int status = sluice.process->wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process->output();
}

// Reaps the successor of a binary upgrade: orphans of our children become ours.
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

TEST(ServiceNotify, AfterABinaryUpgradeTheNewProcessIsTheMainPid) {
  SubreaperScope reaper;
  NotifySocket notify;
  TempDir bin;
  const std::filesystem::path binary = bin.path() / "sluice";
  std::filesystem::copy_file(sluice_binary(), binary);
  NotifiedSluice sluice(notify, hello_config("hello"), binary.string());
  const auto first = notify.next();
  ASSERT_TRUE(first) << sluice.process->output();
  ASSERT_EQ(first->count("MAINPID") ? first->at("MAINPID") : "",
            std::to_string(sluice.process->pid()));

  ::kill(sluice.process->pid(), SIGUSR2);
  const auto successor_ready = notify.next();
  ASSERT_TRUE(successor_ready) << sluice.process->output();
  EXPECT_EQ(successor_ready->count("READY") ? successor_ready->at("READY") : "", "1");
  const auto line = sluice.process->wait_for_line("is serving; this one stops accepting");
  ASSERT_TRUE(line) << sluice.process->output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*line, m, std::regex(R"(process (\d+) is serving)")));
  const pid_t successor = std::stoi(m[1].str());
  reaper.adopt(successor);
  EXPECT_EQ(successor_ready->count("MAINPID") ? successor_ready->at("MAINPID") : "",
            std::to_string(successor));

  // The old process drains and exits without saying STOPPING=1: the
  // service is not stopping, its main process changed.
  const int status = sluice.process->wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process->output();
  while (notify.next(0)) {
  }
  for (const auto& msg : notify.received())
    EXPECT_EQ(msg.count("STOPPING"), 0u) << "a STOPPING=1 before the successor was stopped";

  // The successor's own SIGTERM is the service stopping.
  ::kill(successor, SIGTERM);
  const auto stopping = notify.next();
  ASSERT_TRUE(stopping);
  EXPECT_EQ(stopping->count("STOPPING") ? stopping->at("STOPPING") : "", "1");
  const int successor_status = reaper.stop(0);
  EXPECT_TRUE(WIFEXITED(successor_status) && WEXITSTATUS(successor_status) == 0);
}

}  // namespace
}  // namespace sluice::test
