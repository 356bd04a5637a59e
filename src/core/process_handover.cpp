#include "core/process_handover.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace sluice {
namespace {

constexpr const char* kSocketsVar = "SLUICE_LISTEN_FDS";
constexpr const char* kReadyVar = "SLUICE_READY_FD";

int parse_fd(const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < 3 || v > 1'000'000) return -1;
  return static_cast<int>(v);
}

std::string encode(const HandedSockets& sockets) {
  std::string out;
  for (const auto& [name, fds] : sockets) {
    if (!out.empty()) out += ';';
    out += name + '=';
    for (std::size_t i = 0; i < fds.size(); ++i)
      out += (i ? "," : "") + std::to_string(fds[i]);
  }
  return out;
}

// Waits for the successor's ready byte; false on EOF (it exited) or timeout.
bool wait_ready(int fd, std::uint64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    char byte = 0;
    const ssize_t r = ::read(fd, &byte, 1);
    if (r < 0 && errno == EINTR) continue;
    return r == 1;
  }
}

}  // namespace

HandedSockets take_handed_sockets() {
  HandedSockets sockets;
  const char* text = std::getenv(kSocketsVar);
  if (text == nullptr) return sockets;
  std::string all(text);
  ::unsetenv(kSocketsVar);
  std::size_t begin = 0;
  while (begin < all.size()) {
    std::size_t end = all.find(';', begin);
    if (end == std::string::npos) end = all.size();
    const std::string entry = all.substr(begin, end - begin);
    begin = end + 1;
    const std::size_t eq = entry.rfind('=');
    if (eq == std::string::npos) continue;
    std::vector<int>& fds = sockets[entry.substr(0, eq)];
    std::size_t p = eq + 1;
    while (p <= entry.size()) {
      std::size_t comma = entry.find(',', p);
      if (comma == std::string::npos) comma = entry.size();
      const int fd = parse_fd(entry.substr(p, comma - p));
      if (fd >= 0) {
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // ours now; not our successor's
        fds.push_back(fd);
      }
      p = comma + 1;
    }
  }
  return sockets;
}

void tell_predecessor_ready() {
  const char* text = std::getenv(kReadyVar);
  if (text == nullptr) return;
  const int fd = parse_fd(text);
  ::unsetenv(kReadyVar);
  if (fd < 0) return;
  const char byte = '1';
  while (::write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(fd);
}

pid_t start_successor(const std::vector<std::string>& argv, const HandedSockets& sockets,
                      std::uint64_t timeout_ms, std::string& error) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return -1;
  }
  // Everything the child needs is prepared here: between fork and exec a
  // multi-threaded process may only make async-signal-safe calls.
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (!v.starts_with(std::string(kSocketsVar) + "=") &&
        !v.starts_with(std::string(kReadyVar) + "="))
      env_text.emplace_back(v);
  }
  env_text.push_back(std::string(kSocketsVar) + "=" + encode(sockets));
  env_text.push_back(std::string(kReadyVar) + "=" + std::to_string(ready[1]));
  std::vector<char*> envp;
  for (auto& s : env_text)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& s : args)
    argp.push_back(s.data());
  argp.push_back(nullptr);
  std::vector<int> keep;
  for (const auto& [name, fds] : sockets)
    keep.insert(keep.end(), fds.begin(), fds.end());
  keep.push_back(ready[1]);

  const pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    ::close(ready[0]);
    ::close(ready[1]);
    return -1;
  }
  if (pid == 0) {
    // The child: keep the handed descriptors across exec, unblock the
    // signals the parent takes with sigwait, and become the new binary.
    for (int fd : keep)
      ::fcntl(fd, F_SETFD, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argp[0], argp.data(), envp.data());
    ::_exit(127);
  }
  ::close(ready[1]);
  const bool ok = wait_ready(ready[0], timeout_ms);
  ::close(ready[0]);
  if (ok) return pid;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == pid) {
    error = WIFEXITED(status) ? "it exited with status " + std::to_string(WEXITSTATUS(status))
                              : "it was killed by signal " + std::to_string(WTERMSIG(status));
  } else {
    error = "it was not ready within " + std::to_string(timeout_ms) + " ms; stopping it";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  return -1;
}

std::string own_binary_path() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return {};
  return std::string(path, static_cast<std::size_t>(n));
}

}  // namespace sluice
