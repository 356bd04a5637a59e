#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace sluice::test {
namespace {

// /proc/sys/fs/pipe-max-size's default (an unprivileged process's ceiling).
constexpr int kPipeBytes = 1 << 20;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::string workdir) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    if (!workdir.empty() && chdir(workdir.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  out_fd_ = pipefd[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  // The output is read when a test looks at it: until then a child that
  // writes more than the pipe holds blocks in write(2), and etcd blocked so
  // holding its log's lock (a 316 KB warning line naming every key of a
  // slow transaction) answered nothing. As much room as the kernel gives.
  fcntl(out_fd_, F_SETPIPE_SZ, kPipeBytes);
}

Process::~Process() {
  if (running()) stop(SIGKILL, std::chrono::seconds(10));
  if (out_fd_ >= 0) close(out_fd_);
}

bool Process::pump(int timeout_ms) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return true;
  char buf[4096];
  while (true) {
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      close(out_fd_);
      out_fd_ = -1;
      return false;
    }
    return true;  // EAGAIN
  }
}

const std::string& Process::output() {
  while (out_fd_ >= 0) {
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    if (!pump(0)) break;
  }
  return output_;
}

std::optional<std::string> Process::wait_for_line(const std::string& needle,
                                                  std::chrono::milliseconds timeout) {
  const auto deadline = now_ms() + timeout.count();
  while (true) {
    // Look for a complete line containing the needle.
    std::size_t pos = output_.find(needle, 0);
    while (pos != std::string::npos) {
      const std::size_t end = output_.find('\n', pos);
      if (end != std::string::npos) {
        const std::size_t begin = output_.rfind('\n', pos);
        const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
        return output_.substr(from, end - from);
      }
      break;
    }
    const auto left = deadline - now_ms();
    if (left <= 0) return std::nullopt;
    if (!pump(static_cast<int>(left)) && output_.find(needle) == std::string::npos) {
      return std::nullopt;
    }
  }
}

std::size_t Process::count(const std::string& needle) {
  output();
  std::size_t n = 0;
  for (std::size_t pos = output_.find(needle); pos != std::string::npos;
       pos = output_.find(needle, pos + needle.size()))
    ++n;
  return n;
}

bool Process::wait_for_count(const std::string& needle, std::size_t n,
                             std::chrono::milliseconds timeout) {
  const auto deadline = now_ms() + timeout.count();
  while (count(needle) < n) {
    const auto left = deadline - now_ms();
    if (left <= 0) return false;
    if (!pump(static_cast<int>(left))) return count(needle) >= n;
  }
  return true;
}

bool Process::running() {
  if (exited_ || pid_ <= 0) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = st;
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = now_ms() + timeout.count();
  while (running()) {
    if (now_ms() > deadline) return -1;
    // Reading output keeps the child from blocking on a full pipe; its EOF
    // (the child exiting) wakes us without a sleep.
    if (!pump(20)) {
      int st;
      if (waitpid(pid_, &st, 0) == pid_) {
        exited_ = true;
        status_ = st;
      }
    }
  }
  return status_;
}

int Process::stop(int sig, std::chrono::milliseconds timeout) {
  if (running()) kill(pid_, sig);
  return wait(timeout);
}

CommandResult run_command(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  Process p(std::move(argv));
  CommandResult r;
  const int st = p.wait(timeout);
  r.output = p.output();
  if (st == -1) {
    kill(p.pid(), SIGKILL);
    r.exit_code = -1;
  } else {
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  return r;
}

}  // namespace sluice::test
