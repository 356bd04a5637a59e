// Starts a child process (the sluice binary, nginx, ...) with its stderr and
// stdout on a pipe, lets a test wait for a line to appear (an event, never a
// sleep), and stops it by PID when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sluice::test {

class Process {
 public:
  // Starts `argv[0]` with `argv`; stdin is /dev/null.
  explicit Process(std::vector<std::string> argv, std::string workdir = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Waits until a line containing `needle` has been printed; returns it.
  // nullopt if the process exits or `timeout` passes first.
  std::optional<std::string> wait_for_line(
      const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits until `needle` has been printed `n` times (in complete lines or
  // not). False if the process exits or `timeout` passes first.
  bool wait_for_count(const std::string& needle, std::size_t n,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::size_t count(const std::string& needle);
  // Everything printed so far (stdout and stderr interleaved).
  const std::string& output();
  // Sends `sig` and waits for the exit; returns the exit status as from
  // waitpid (use WIFEXITED/WEXITSTATUS), or -1 after `timeout`.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits for exit without signalling.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running();

 private:
  bool pump(int timeout_ms);  // reads available output; false on EOF
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string output_;
  std::size_t scanned_ = 0;
};

// Runs a command to completion and returns its exit status and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandResult run_command(std::vector<std::string> argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace sluice::test
