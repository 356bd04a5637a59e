#include "observe/access_log_writer.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "config/model.h"

namespace sluice::observe {
namespace {

constexpr auto kRoundInterval = std::chrono::milliseconds(50);
constexpr auto kDropReportInterval = std::chrono::seconds(10);

int open_file(const std::string& path) {
  if (path == "stdout") return STDOUT_FILENO;
  if (path == "stderr") return STDERR_FILENO;
  // Client addresses are personal data: not for every local user.
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

bool is_standard_stream(const std::string& path) {
  return path == "stdout" || path == "stderr";
}

bool same_settings(const config::AccessLogSettings& a, const config::AccessLogSettings& b) {
  if (a.path != b.path || a.json != b.json || a.sample != b.sample || a.errors != b.errors ||
      a.pieces.size() != b.pieces.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.pieces.size(); ++i) {
    if (a.pieces[i].field != b.pieces[i].field || a.pieces[i].literal != b.pieces[i].literal)
      return false;
  }
  return true;
}

std::unique_ptr<AccessLogRule> make_rule(const config::AccessLogSettings& s, std::uint32_t sink) {
  auto rule = std::make_unique<AccessLogRule>();
  if (!s.json) rule->format = AccessLogFormat(s.pieces);
  rule->sink = sink;
  rule->every = s.sample >= 1.0;
  // sample * 2^64, short of overflow.
  rule->sample_below =
      rule->every ? UINT64_MAX
                  : static_cast<std::uint64_t>(std::ldexp(static_cast<long double>(s.sample), 64));
  rule->errors_always = s.errors == config::AccessLogErrors::always;
  return rule;
}

}  // namespace

AccessLogWriter::AccessLogWriter(std::size_t workers, std::size_t ring_bytes) {
  for (std::size_t i = 0; i < workers; ++i)
    workers_.push_back(std::make_unique<AccessLog>(*this, i, ring_bytes));
}

AccessLogWriter::~AccessLogWriter() {
  stop();
}

std::uint64_t AccessLogWriter::dropped() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_)
    n += w->dropped();
  return n;
}

// --------------------------------------------------------- control thread

std::uint32_t AccessLogWriter::sink_for(const std::string& path, std::string& error) {
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
      if (!sinks_[i]->closed && sinks_[i]->path == path) return static_cast<std::uint32_t>(i);
    }
  }
  const int fd = open_file(path);
  if (fd < 0) {
    error = "access_log: cannot open " + path + ": " + std::strerror(errno);
    return UINT32_MAX;
  }
  auto sink = std::make_unique<Sink>();
  sink->path = path;
  sink->fd = fd;
  std::lock_guard lock(mutex_);
  sinks_.push_back(std::move(sink));
  return static_cast<std::uint32_t>(sinks_.size() - 1);
}

std::shared_ptr<const AccessLogPolicy> AccessLogWriter::configure(const config::Config& config,
                                                                  std::string& error) {
  auto policy = std::make_shared<AccessLogPolicy>();
  std::vector<config::AccessLogSettings> seen;  // one rule each, same index
  const auto rule_of = [&](const config::AccessLogSettings& s) -> const AccessLogRule* {
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (same_settings(seen[i], s)) return policy->rules[i].get();
    const std::uint32_t sink = sink_for(s.path, error);
    if (sink == UINT32_MAX) return nullptr;
    seen.push_back(s);
    policy->rules.push_back(make_rule(s, sink));
    return policy->rules.back().get();
  };
  if (config.access_log) policy->fallback = rule_of(*config.access_log);
  bool all_fallback = true;
  for (const auto& l : config.listeners) {
    const auto settings = config::access_log_of(config, l);
    const AccessLogRule* rule = settings ? rule_of(*settings) : nullptr;
    policy->listeners.emplace_back(l.name, rule);
    all_fallback = all_fallback && rule == policy->fallback;
  }
  // The files it opened before one failed close at the next retirement.
  if (!error.empty()) return nullptr;
  if (all_fallback) policy->listeners.clear();
  if (policy->rules.empty()) return nullptr;
  start_thread();
  return policy;
}

void AccessLogWriter::start_thread() {
  std::lock_guard lock(mutex_);
  if (started_ || stopped_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void AccessLogWriter::retire_unused(const AccessLogPolicy* in_force) {
  std::unique_lock lock(mutex_);
  for (auto& s : sinks_)
    s->needed = false;
  if (in_force != nullptr) {
    for (const auto& rule : in_force->rules)
      sinks_[rule->sink]->needed = true;
  }
  if (!started_ || stopped_) {  // no lines to write first
    close_unneeded_locked();
    return;
  }
  retire_requested_ = true;
  const std::uint64_t ticket = ++rounds_requested_;
  wake_.notify_one();
  done_.wait(lock, [&] { return rounds_done_ >= ticket || stopped_; });
}

void AccessLogWriter::reopen() {
  std::lock_guard lock(mutex_);
  if (!started_ || stopped_) return;
  reopen_requested_ = true;
  wake_.notify_one();
}

void AccessLogWriter::flush() {
  std::unique_lock lock(mutex_);
  if (!started_ || stopped_) return;
  const std::uint64_t ticket = ++rounds_requested_;
  wake_.notify_one();
  done_.wait(lock, [&] { return rounds_done_ >= ticket || stopped_; });
}

// The thread object is touched here and in start_thread() only, both on
// the control thread; other threads go by `started_` under the lock.
void AccessLogWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!started_) {
      stopped_ = true;
      for (auto& s : sinks_) {
        if (s->fd >= 0 && !is_standard_stream(s->path)) ::close(s->fd);
        s->fd = -1;
      }
      return;
    }
    stop_requested_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------- writer thread

// Rounds every kRoundInterval, or sooner when a ring fills up, a flush or
// a reopen is asked for. The lock is held only to read the requests and
// the list of files: writing never holds up a reload.
void AccessLogWriter::run() {
  std::uint64_t dropped_reported = 0;
  auto next_drop_report = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, kRoundInterval, [this] {
      return urgent_.load(std::memory_order_relaxed) || rounds_requested_ > rounds_done_ ||
             reopen_requested_ || retire_requested_ || stop_requested_;
    });
    urgent_.store(false, std::memory_order_relaxed);
    const std::uint64_t serving = rounds_requested_;
    const bool reopen = std::exchange(reopen_requested_, false);
    const bool retire = std::exchange(retire_requested_, false);
    const bool stop = stop_requested_;
    round_sinks_.clear();
    for (auto& s : sinks_)
      round_sinks_.push_back(s.get());
    lock.unlock();

    // Stopping: the workers have ended, so this drains every ring.
    write_round();
    if (reopen) reopen_files();
    if (retire) close_unneeded();
    if (const std::uint64_t d = dropped();
        d > dropped_reported && std::chrono::steady_clock::now() >= next_drop_report) {
      spdlog::warn("access log: {} line(s) dropped: the writer could not keep up (total {})",
                   d - dropped_reported, d);
      dropped_reported = d;
      next_drop_report = std::chrono::steady_clock::now() + kDropReportInterval;
    }

    lock.lock();
    rounds_done_ = serving;
    if (stop) {
      for (auto& s : sinks_) {
        if (s->fd >= 0 && !is_standard_stream(s->path)) ::close(s->fd);
        s->fd = -1;
      }
      stopped_ = true;
      done_.notify_all();
      return;
    }
    done_.notify_all();
  }
}

std::size_t AccessLogWriter::write_round() {
  std::size_t lines = 0;
  for (auto& w : workers_) {
    lines += w->ring().drain([this](std::uint32_t sink, std::string_view line) {
      if (sink >= round_sinks_.size()) {  // listed after this round began
        std::lock_guard lock(mutex_);
        round_sinks_.clear();
        for (auto& s : sinks_)
          round_sinks_.push_back(s.get());
      }
      round_sinks_[sink]->batch.append(line);
    });
  }
  for (Sink* s : round_sinks_) {
    if (!s->batch.empty()) write_batch(*s);
  }
  written_.store(written_.load(std::memory_order_relaxed) + lines, std::memory_order_relaxed);
  return lines;
}

// A pipe keeps a write of at most PIPE_BUF bytes whole (POSIX write(2)):
// stdout and stderr are written in such pieces, cut after a newline, so
// another writer of the same pipe (sluice's own log on stderr) never lands
// inside an access log line.
void AccessLogWriter::write_batch(Sink& sink) {
  const std::string& b = sink.batch;
  const bool pieces = is_standard_stream(sink.path);
  std::size_t at = 0;
  while (at < b.size() && sink.fd >= 0) {
    std::size_t n = b.size() - at;
    if (pieces && n > PIPE_BUF) {
      const std::size_t nl = b.rfind('\n', at + PIPE_BUF - 1);
      n = nl != std::string::npos && nl >= at ? nl + 1 - at : b.find('\n', at) + 1 - at;
    }
    const ssize_t w = ::write(sink.fd, b.data() + at, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      spdlog::error("access log: cannot write to {}: {}; {} byte(s) lost", sink.path,
                    std::strerror(errno), b.size() - at);
      break;
    }
    at += static_cast<std::size_t>(w);
  }
  sink.batch.clear();
}

void AccessLogWriter::reopen_files() {
  std::size_t reopened = 0;
  for (Sink* s : round_sinks_) {
    if (s->closed || is_standard_stream(s->path)) continue;
    const int fd = open_file(s->path);
    if (fd < 0) {
      spdlog::error("access log: cannot open {} again: {}; writing on to the file as it was",
                    s->path, std::strerror(errno));
      continue;
    }
    ::close(s->fd);
    s->fd = fd;
    ++reopened;
  }
  spdlog::info("access log: reopened {} file(s)", reopened);
}

void AccessLogWriter::close_unneeded() {
  std::lock_guard lock(mutex_);
  close_unneeded_locked();
}

void AccessLogWriter::close_unneeded_locked() {
  for (auto& s : sinks_) {
    if (s->needed || s->closed) continue;
    if (!is_standard_stream(s->path)) ::close(s->fd);
    s->fd = -1;
    s->closed = true;
  }
}

}  // namespace sluice::observe
