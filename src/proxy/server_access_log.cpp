// The Server's part of the access log: the writer made with the first
// configuration, each worker's log attached to its context, a reload's
// policy published to every worker before the files it no longer names
// close, and the last lines written at stop.
#include <spdlog/spdlog.h>
#include <chrono>
#include <latch>
#include <thread>

#include "config/model.h"
#include "core/worker.h"
#include "observe/access_log_writer.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {

void Server::configure_first_access_log(const config::Config& config) {
  access_log_ = std::make_unique<observe::AccessLogWriter>(snapshot_->workers);
  access_log_policy_ = access_log_->configure(config, access_log_error_);
}

// Before the worker's thread runs.
void Server::attach_access_log(std::size_t worker) {
  observe::AccessLog& log = access_log_->worker(worker);
  log.set_policy(access_log_policy_);
  contexts_[worker]->access_log = log.enabled() ? &log : nullptr;
}

bool Server::prepare_access_log(const config::Config& config,
                                std::shared_ptr<const observe::AccessLogPolicy>& next,
                                std::string& error) {
  std::string why;
  next = access_log_->configure(config, why);
  if (why.empty()) return true;
  access_log_->retire_unused(access_log_policy_.get());  // what it opened before failing
  error += (error.empty() ? "" : "\n") + config.file + ": error: " + why;
  return false;
}

// Each worker takes the policy on its own thread; then the lines of the
// one before are written out and the files nothing names any more close.
void Server::publish_access_log(std::shared_ptr<const observe::AccessLogPolicy> next) {
  auto switched = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(workers_.size()));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    WorkerContext* ctx = contexts_[i].get();
    observe::AccessLog* log = &access_log_->worker(i);
    workers_[i]->loop().post([ctx, log, next, switched] {
      log->set_policy(next);
      ctx->access_log = log->enabled() ? log : nullptr;
      switched->count_down();
    });
  }
  // A stopped loop never counts down: bounded, as publish() is.
  for (int i = 0; i < 2'000 && !switched->try_wait(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  access_log_->retire_unused(next.get());
  access_log_policy_ = std::move(next);
}

void Server::reopen_access_log() {
  if (access_log_) access_log_->reopen();
}

std::uint64_t Server::access_log_dropped() const {
  return access_log_ ? access_log_->dropped() : 0;
}

// After the workers have ended: every line they handed over is written.
void Server::stop_access_log() {
  if (!access_log_) return;
  access_log_->stop();
  if (const std::uint64_t dropped = access_log_->dropped(); dropped > 0)
    spdlog::warn("access log: {} line(s) dropped in all (the writer could not keep up)", dropped);
}

}  // namespace sluice::proxy
