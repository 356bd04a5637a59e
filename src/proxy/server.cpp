#include "proxy/server.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cstring>

#include "config/model.h"
#include "core/address.h"
#include "core/listener.h"
#include "core/worker.h"
#include "proxy/client_session.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

Task<void> refuse(int fd) {
  ::close(fd);
  co_return;
}

// Serves one accepted connection according to its listener's protocol. Not
// a coroutine itself: the session's task is returned directly, one frame
// fewer per connection.
Task<void> serve_connection(const Snapshot* snapshot, ConnectionScope& scope, int fd) {
  const ListenerSettings& listener = snapshot->listeners[scope.listener_index()];
  if (listener.http) return serve_http_client(scope, fd, *snapshot);
  // TCP (layer 4) forwarding is not built yet: refuse rather than hang.
  return refuse(fd);
}

}  // namespace

Server::Server(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)), snapshot_(Snapshot::build(*config_)) {}

Server::~Server() {
  request_stop(0);
  join();
}

bool Server::start(std::string& error) {
  const Snapshot* snap = snapshot_.get();
  // One buffer holds a whole request head plus at least 4 KiB of body.
  std::size_t buffer_bytes = 16 * 1024;
  for (const auto& ls : snap->listeners) {
    buffer_bytes = std::max(buffer_bytes, ls.max_head_bytes + 4 * 1024);
  }
  for (unsigned i = 0; i < snap->workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(
        i, [snap](ConnectionScope& scope, int fd) { return serve_connection(snap, scope, fd); },
        buffer_bytes));
  }
  for (std::size_t li = 0; li < snap->listeners.size(); ++li) {
    const ListenerSettings& ls = snap->listeners[li];
    auto addr = SocketAddress::resolve(ls.listen);
    if (!addr) {
      error = "listener '" + ls.name + "': cannot resolve address " + ls.listen;
      workers_.clear();
      return false;
    }
    if (!ls.http) {
      spdlog::warn("listener '{}': TCP listeners are not served yet; connections are closed",
                   ls.name);
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
  for (auto& worker : workers_)
    worker->start();
  return true;
}

void Server::request_stop(std::uint64_t grace_ms) {
  for (auto& worker : workers_)
    worker->request_stop(grace_ms);
}

void Server::join() {
  for (auto& worker : workers_)
    worker->join();
}

}  // namespace sluice::proxy
