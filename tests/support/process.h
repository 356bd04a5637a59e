// Starts a child process (the sluice binary, nginx, ...) with its stderr and
// stdout on a pipe, lets a test wait for a line to appear (an event, never a
// sleep), and stops it by PID when the test ends.
//
// A thread of its own reads the pipe from the start, whether or not a test
// looks: a child never blocks writing its output. (etcd once did, holding
// its log's lock behind a 316 KB warning line, and answered nothing.)
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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
  // Everything printed so far (stdout and stderr interleaved). A copy the
  // calling test thread keeps until its next call: the reader may be
  // appending meanwhile.
  const std::string& output();
  // Sends `sig` and waits for the exit; returns the exit status as from
  // waitpid (use WIFEXITED/WEXITSTATUS), or -1 after `timeout`.
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits for exit without signalling.
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running();

 private:
  void read_output();   // the reader thread: until EOF or stop_fd_
  bool drain_locked();  // reads what the pipe holds now; false at EOF
  // Waits until `done` (called under the lock) holds, EOF, or `deadline`.
  template <typename Done>
  bool wait_until(Done done, std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: the destructor wakes the reader with it
  int status_ = -1;
  bool exited_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;  // guarded by mutex_
  bool eof_ = false;    // guarded by mutex_
  std::string copy_;    // what output() returned last
  std::thread reader_;
};

// Runs a command to completion and returns its exit status and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
CommandResult run_command(std::vector<std::string> argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace sluice::test
