#include "proxy/server.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <latch>
#include <thread>

#include "balance/health_checker.h"
#include "config/model.h"
#include "core/address.h"
#include "core/listener.h"
#include "core/worker.h"
#include "proxy/client_session.h"
#include "proxy/destination_table.h"
#include "proxy/pool_group.h"
#include "proxy/snapshot.h"
#include "proxy/tcp_session.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

// Serves one accepted connection according to its listener's protocol. Not
// a coroutine itself: the session's task is returned directly, one frame
// fewer per connection.
Task<void> serve_connection(WorkerContext* ctx, ConnectionScope& scope, int fd) {
  const ListenerSettings& listener = ctx->snapshot->listeners[scope.listener_index()];
  if (listener.http) return serve_http_client(scope, fd, *ctx);
  return serve_tcp_client(scope, fd, *ctx);
}

}  // namespace

Server::Server(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)), destinations_(std::make_unique<DestinationTable>()) {
  snapshot_ = Snapshot::build(*config_, *destinations_);
}

Server::~Server() {
  request_stop(0);
  join();
  contexts_.clear();
}

bool Server::start(std::string& error) {
  const Snapshot* snap = snapshot_.get();
  // One buffer holds a whole request head plus at least 4 KiB of body.
  std::size_t buffer_bytes = 16 * 1024;
  for (const auto& ls : snap->listeners) {
    buffer_bytes = std::max(buffer_bytes, ls.max_head_bytes + 4 * 1024);
  }
  // Room for destinations added by later reloads, so other workers can
  // always read a pool's counts without a lock.
  const std::size_t destinations = std::max<std::size_t>(64, destinations_->size() * 2);
  std::vector<UpstreamPool*> pools;
  for (unsigned i = 0; i < snap->workers; ++i) {
    auto worker = std::make_unique<Worker>(i, nullptr, buffer_bytes);
    auto ctx = std::make_unique<WorkerContext>(i, worker->loop(), destinations);
    ctx->snapshot = snapshot_;
    pools.push_back(&ctx->pool);
    WorkerContext* c = ctx.get();
    worker->set_handler(
        [c](ConnectionScope& scope, int fd) { return serve_connection(c, scope, fd); });
    workers_.push_back(std::move(worker));
    contexts_.push_back(std::move(ctx));
  }
  pools_ = std::make_unique<PoolGroup>(std::move(pools));
  for (auto& ctx : contexts_)
    ctx->group = pools_.get();
  for (std::size_t li = 0; li < snap->listeners.size(); ++li) {
    const ListenerSettings& ls = snap->listeners[li];
    auto addr = SocketAddress::resolve(ls.listen);
    if (!addr) {
      error = "listener '" + ls.name + "': cannot resolve address " + ls.listen;
      workers_.clear();
      return false;
    }
    // The first socket binds (port 0: the kernel picks); every other worker
    // binds the port it got, sharing it through SO_REUSEPORT.
    SocketAddress bound = *addr;
    for (auto& worker : workers_) {
      auto fd = open_listening_socket(bound);
      if (!fd) {
        error = "listener '" + ls.name + "': cannot listen on " + bound.to_string() + ": " +
                std::strerror(fd.error().sys_errno);
        workers_.clear();
        return false;
      }
      if (bound.port() == 0) bound = SocketAddress::local_of(*fd);
      worker->add_listener(li, *fd);
    }
    spdlog::info("listener '{}' listening on {} ({} worker{})", ls.name, bound.to_string(),
                 workers_.size(), workers_.size() == 1 ? "" : "s");
  }
  buffer_bytes_ = buffer_bytes;
  health_ = std::make_unique<balance::HealthChecker>(health_targets(*snap));
  for (auto& worker : workers_)
    worker->start();
  health_->start();
  return true;
}

std::vector<balance::HealthTarget> Server::health_targets(const Snapshot& snap) {
  std::vector<balance::HealthTarget> targets;
  for (const auto& up : snap.upstreams) {
    if (!up.health) continue;
    for (std::size_t i = 0; i < up.servers.size(); ++i) {
      if (!up.servers[i].resolved) continue;
      targets.push_back(
          {up.name, up.balancer, static_cast<int>(i), up.servers[i].addr, *up.health});
    }
  }
  return targets;
}

bool Server::reload(std::shared_ptr<const config::Config> config, std::string& error) {
  auto next = Snapshot::build(*config, *destinations_);
  // Listeners keep their sockets: this version reloads routes, backends and
  // listener settings, not the set of listeners.
  const auto& old = snapshot_->listeners;
  const auto& now = next->listeners;
  if (now.size() != old.size() || next->workers != snapshot_->workers) {
    error = "adding or removing listeners, or changing workers, needs a restart";
    return false;
  }
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (now[i].name != old[i].name || now[i].listen != old[i].listen ||
        now[i].http != old[i].http) {
      error = "listener '" + now[i].name +
              "' changed its name, address or protocol; that needs a restart";
      return false;
    }
    if (now[i].max_head_bytes + 4 * 1024 > buffer_bytes_) {
      error = "listener '" + now[i].name + "': a larger max_header_size needs a restart";
      return false;
    }
  }
  // What was learnt about servers that remain carries over.
  for (auto& up : next->upstreams) {
    for (const auto& before : snapshot_->upstreams) {
      if (before.name == up.name) up.balancer->inherit(*before.balancer);
    }
  }
  // Publish: each worker swaps its pointer on its own thread. Requests in
  // flight keep the snapshot they pinned; it is freed with the last of them.
  // Returns once every worker has it, so "applied" in the log means applied.
  auto published = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(workers_.size()));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    WorkerContext* ctx = contexts_[i].get();
    workers_[i]->loop().post([ctx, next, published] {
      ctx->snapshot = next;
      published->count_down();
    });
  }
  for (int i = 0; i < 2'000 && !published->try_wait(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Health checks restart on the new servers (their state starts fresh).
  if (health_) health_->stop();
  health_ = std::make_unique<balance::HealthChecker>(health_targets(*next));
  health_->start();
  config_ = std::move(config);
  snapshot_ = std::move(next);
  return true;
}

void Server::request_stop(std::uint64_t grace_ms) {
  for (auto& worker : workers_)
    worker->request_stop(grace_ms);
}

void Server::join() {
  for (auto& worker : workers_)
    worker->join();
  if (health_) health_->stop();
  // The loops have stopped: their idle backend connections close here.
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    auto& c = contexts_[i]->counters;
    if (c.requests > 0) {
      spdlog::info(
          "worker {}: {} request(s) forwarded, {} on reused connections, {} connection(s) "
          "opened, {} borrowed, {} retried, {} failed unanswered",
          i, c.requests, c.reused, c.connections, c.borrowed, c.retries, c.unanswered);
      c = ForwardCounters{};  // join() may run twice (stop, then destruction)
    }
    contexts_[i]->pool.clear();
  }
}

}  // namespace sluice::proxy
