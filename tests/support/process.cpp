#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace sluice::test {
namespace {

// /proc/sys/fs/pipe-max-size's default (an unprivileged process's ceiling).
constexpr int kPipeBytes = 1 << 20;

}  // namespace

Process::Process(std::vector<std::string> argv, std::string workdir) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) throw std::runtime_error("eventfd failed");
  // Built before fork: other Processes' readers are threads, and the child
  // should do no more than it must before exec.
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    if (!workdir.empty() && chdir(workdir.c_str()) != 0) _exit(126);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  out_fd_ = pipefd[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  // Room for a burst while the reader is not running.
  fcntl(out_fd_, F_SETPIPE_SZ, kPipeBytes);
  reader_ = std::thread([this] { read_output(); });
}

Process::~Process() {
  if (running()) stop(SIGKILL, std::chrono::seconds(10));
  // A child it started (a binary upgrade's successor) may still hold the
  // pipe open: no EOF would come, so the reader is told to stop.
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = write(stop_fd_, &one, sizeof one);
  reader_.join();
  close(out_fd_);
  close(stop_fd_);
}

void Process::read_output() {
  while (true) {
    pollfd p[2] = {{out_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) break;
    if (p[1].revents != 0) break;
    std::lock_guard lock(mutex_);
    const bool open = drain_locked();
    changed_.notify_all();
    if (!open) return;
  }
  std::lock_guard lock(mutex_);
  eof_ = true;
  changed_.notify_all();
}

bool Process::drain_locked() {
  // Reads and appends under one lock, whoever calls: the reader thread or
  // a test thread that wants what was written up to now.
  char buf[16384];
  while (!eof_) {
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      output_.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      eof_ = true;
    } else if (errno != EINTR) {
      break;  // EAGAIN: nothing more for now
    }
  }
  return !eof_;
}

template <typename Done>
bool Process::wait_until(Done done, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return done() || eof_; });
  return done();
}

const std::string& Process::output() {
  std::lock_guard lock(mutex_);
  drain_locked();  // all a child that has exited wrote
  copy_ = output_;
  return copy_;
}

namespace {

// The complete line (without its newline) holding the first `needle`
// whose line has ended.
std::optional<std::string> line_with(const std::string& text, const std::string& needle) {
  const std::size_t pos = text.find(needle);
  if (pos == std::string::npos) return std::nullopt;
  const std::size_t end = text.find('\n', pos);
  if (end == std::string::npos) return std::nullopt;
  const std::size_t begin = text.rfind('\n', pos);
  const std::size_t from = begin == std::string::npos ? 0 : begin + 1;
  return text.substr(from, end - from);
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

}  // namespace

std::optional<std::string> Process::wait_for_line(const std::string& needle,
                                                  std::chrono::milliseconds timeout) {
  std::optional<std::string> line;
  wait_until([&] { return (line = line_with(output_, needle)).has_value(); },
             std::chrono::steady_clock::now() + timeout);
  return line;
}

std::size_t Process::count(const std::string& needle) {
  std::lock_guard lock(mutex_);
  drain_locked();
  return occurrences(output_, needle);
}

bool Process::wait_for_count(const std::string& needle, std::size_t n,
                             std::chrono::milliseconds timeout) {
  return wait_until([&] { return occurrences(output_, needle) >= n; },
                    std::chrono::steady_clock::now() + timeout);
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
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    // The pipe's EOF (the child exiting) wakes us without a sleep; a child
    // whose own child keeps the pipe open is looked at every 20 ms.
    bool ended = false;
    {
      std::unique_lock lock(mutex_);
      ended = changed_.wait_for(lock, std::chrono::milliseconds(20), [this] { return eof_; });
    }
    int st;
    if (ended && waitpid(pid_, &st, 0) == pid_) {
      exited_ = true;
      status_ = st;
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
