// The access log's one writer thread: it takes the lines every worker
// handed over (each through its own ring, access_log.h), groups them by
// destination and writes each batch with write(2), every 50 ms or sooner
// when a ring fills up. It owns the files: it opens them again on request
// (SIGUSR1, for logrotate), closes those a reload stopped naming once their
// last lines are out, and writes everything left when the server stops.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "observe/access_log.h"

namespace sluice::config {
struct Config;
}

namespace sluice::observe {

class AccessLogWriter {
 public:
  static constexpr std::size_t kDefaultRingBytes = 2 * 1024 * 1024;

  // One AccessLog (and ring) per worker.
  explicit AccessLogWriter(std::size_t workers, std::size_t ring_bytes = kDefaultRingBytes);
  ~AccessLogWriter();  // stop()
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  AccessLog& worker(std::size_t i) { return *workers_[i]; }
  std::size_t worker_count() const { return workers_.size(); }

  // The control thread (start, reload; one at a time). The policy of
  // `config`, opening the files it names that are not open yet; null when
  // no listener has an access log. On a file that cannot be opened: null
  // with `error` set, and nothing changes.
  std::shared_ptr<const AccessLogPolicy> configure(const config::Config& config,
                                                   std::string& error);
  // The control thread, once every worker follows `in_force` (a policy of
  // configure(), or null for none): writes the lines handed over so far,
  // then closes the files `in_force` does not name. Returns when done.
  void retire_unused(const AccessLogPolicy* in_force);
  // Any thread: writes the lines handed over so far to the files they were
  // meant for, then opens every file again by its name (logrotate has
  // renamed it). Returns at once; the writer logs when it is done.
  void reopen();
  // Any thread but a worker's: returns once every line handed over before
  // the call is written (or the writer has stopped).
  void flush();
  // After the workers have stopped: writes every line left, closes the
  // files and ends the thread. Idempotent.
  void stop();

  // Any thread: lines the workers dropped (rings full), lines written.
  std::uint64_t dropped() const;
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }

  // A worker, after a push: wakes the writer when `ring` is filling up.
  void notice(AccessLogRing& ring) {
    if (ring.filling_up() && !urgent_.load(std::memory_order_relaxed)) {
      urgent_.store(true, std::memory_order_relaxed);
      wake_.notify_one();
    }
  }

 private:
  struct Sink {
    std::string path;     // "stdout", "stderr" or a file
    int fd = -1;          // the writer thread's from the moment it is listed
    bool closed = false;  // retired: no policy names it any more
    bool needed = false;  // named by the policy in force (retire_unused)
    std::string batch;    // the writer thread's
  };

  void run();
  // One round of the writer thread: takes the lines out of every ring and
  // writes them. Returns the number of lines.
  std::size_t write_round();
  void write_batch(Sink& sink);
  void reopen_files();
  void close_unneeded();
  void close_unneeded_locked();
  void start_thread();
  std::uint32_t sink_for(const std::string& path, std::string& error);

  std::vector<std::unique_ptr<AccessLog>> workers_;

  std::mutex mutex_;  // guards what follows up to the thread
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::unique_ptr<Sink>> sinks_;  // by id; never removed (ids stay valid)
  bool reopen_requested_ = false;
  bool retire_requested_ = false;
  bool stop_requested_ = false;
  bool started_ = false;                // the thread was started
  bool stopped_ = false;                // ... and has ended (or never will)
  std::uint64_t rounds_requested_ = 0;  // flush tickets
  std::uint64_t rounds_done_ = 0;
  std::thread thread_;

  std::vector<Sink*> round_sinks_;  // the writer thread's view of sinks_
  std::atomic<bool> urgent_{false};
  std::atomic<std::uint64_t> written_{0};
};

}  // namespace sluice::observe
