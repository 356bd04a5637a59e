#include "proxy/tcp_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cstring>
#include <memory>

#include "core/buffer_pool.h"
#include "core/socket.h"
#include "core/worker.h"
#include "http/proxy_protocol.h"
#include "proxy/proxy_header_reader.h"
#include "proxy/snapshot.h"
#include "proxy/tunnel.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

// The chosen server while the connection lasts: counted in its in-flight
// requests, holding one of its max_connections.
class ServerLease {
 public:
  explicit ServerLease(const balance::Balancer& b) : balancer_(b) {}
  ~ServerLease() { release(); }
  ServerLease(const ServerLease&) = delete;
  ServerLease& operator=(const ServerLease&) = delete;

  void take(int server) {
    release();
    server_ = server;
    balancer_.state(server).in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  void set_slot() { slot_ = true; }
  void release() {
    if (server_ < 0) return;
    if (slot_) balancer_.limit(server_)->release();
    balancer_.state(server_).in_flight.fetch_sub(1, std::memory_order_relaxed);
    server_ = -1;
    slot_ = false;
  }
  int server() const { return server_; }

 private:
  const balance::Balancer& balancer_;
  int server_ = -1;
  bool slot_ = false;
};

// Connects to a server of `up`, the next one after each failed connect.
// Returns the descriptor, or -1 when every usable server failed.
// `key`: for `balance: hash`.
Task<int> connect_to_a_server(EventLoop& loop, const Backend& up,
                              balance::Balancer::WorkerState& ws, ServerLease& lease,
                              std::uint64_t key, CancelToken* cancel, const char* listener) {
  const balance::Balancer& b = *up.balancer;
  int avoid = -1;
  for (std::size_t tries = 0; tries < up.servers.size(); ++tries) {
    const int s = b.pick(ws, loop.now_ms(), key, avoid);
    if (s < 0) break;
    lease.take(s);
    if (balance::ConnectionLimit* limit = b.limit(s)) {
      if (!co_await limit->acquire(loop, up.queue_timeout_ms, cancel)) co_return -1;
      lease.set_slot();
    }
    const balance::Endpoint* endpoint = b.state(s).endpoint.load(std::memory_order_acquire);
    if (endpoint == nullptr) {  // never resolved, so never picked; guard all the same
      avoid = s;
      continue;
    }
    auto fd = co_await connect_to(loop, endpoint->addr, up.connect_timeout_ms, cancel);
    if (fd) {
      b.record_success(s);
      if (up.tcp_keepalive) {
        int one = 1;
        setsockopt(*fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
      }
      co_return *fd;
    }
    if (fd.code() == Errc::cancelled) co_return -1;
    if (fd.error().is_local_shortage()) {
      // Ours, not the server's: nothing is recorded against it.
      spdlog::warn("listener '{}' backend '{}': cannot open a connection to {}: {}", listener,
                   up.name, up.servers[static_cast<std::size_t>(s)].address,
                   std::strerror(fd.error().sys_errno));
      co_return -1;
    }
    b.record_failure(s, loop.now_ms());
    spdlog::warn("listener '{}' backend '{}' server {}: connect failed; trying the next server",
                 listener, up.name, up.servers[static_cast<std::size_t>(s)].address);
    avoid = s;
  }
  co_return -1;
}

// The key `balance: hash` places on its ring. A tunnel has no header,
// cookie or path, so only source_ip gives one: the client's address as
// the PROXY header names it, if any, hashed as HTTP requests hash it.
std::uint64_t tunnel_hash_key(const Backend& up, const SocketAddress& source) {
  if (up.balancer->algorithm() != balance::Algorithm::hash ||
      up.hash_source != HashSource::source_ip) {
    return balance::Balancer::kNoKey;
  }
  return balance::hash_key(source.host_string());
}

}  // namespace

Task<void> serve_tcp_client(ConnectionScope& scope, int fd, WorkerContext& ctx) {
  // A tunnel keeps what it started under, its listener's settings and its
  // backend (with its balancer), until it ends: not the whole snapshot.
  const std::shared_ptr<const ListenerSettings> listener =
      ctx.snapshot->in_slot(scope.listener_index());
  if (!listener) {  // removed by a reload just after the accept
    ::close(fd);
    co_return;
  }
  const std::shared_ptr<const Backend> backend = ctx.snapshot->backends[listener->backend_index];
  EventLoop& loop = scope.worker().loop();
  const ListenerSettings& ls = *listener;
  Socket client(loop, fd);
  client.bind_cancel(&scope.cancel_token());
  Buffer up_buf = scope.worker().buffers().acquire();  // client -> server
  std::size_t pending = 0;
  SocketAddress source = SocketAddress::peer_of(fd);
  SocketAddress destination = SocketAddress::local_of(fd);
  if (ls.proxy_protocol && !co_await read_proxy_header(client, up_buf, pending, source, destination,
                                                       ls.header_timeout_ms, ls.name.c_str())) {
    co_return;
  }
  const Backend& up = *backend;
  ServerLease lease(*up.balancer);
  const int server_fd = co_await connect_to_a_server(loop, up, up.balance_state(ctx.index), lease,
                                                     tunnel_hash_key(up, source),
                                                     &scope.cancel_token(), ls.name.c_str());
  if (server_fd < 0) {
    spdlog::warn("listener '{}' client {}: no server of backend '{}' could be reached; closing",
                 ls.name, source.to_string(), up.name);
    co_return;
  }
  Socket server(loop, server_fd);
  server.bind_cancel(&scope.cancel_token());
  const BackendServer& chosen = up.servers[static_cast<std::size_t>(lease.server())];
  if (chosen.send_proxy != ProxyHeaderVersion::none) {
    const std::string header = chosen.send_proxy == ProxyHeaderVersion::v1
                                   ? http::make_proxy_header_v1(source, destination)
                                   : http::make_proxy_header_v2(source, destination);
    if (!co_await server.write(header, up.connect_timeout_ms)) co_return;
  }
  if (pending > 0 &&
      !co_await server.write(std::string_view(up_buf.data(), pending), ls.idle_timeout_ms)) {
    co_return;
  }
  Buffer down_buf = scope.worker().buffers().acquire();  // server -> client
  const BackendInUse in_use(ctx);
  co_await run_tunnel(client, server, std::span<char>(up_buf.data(), up_buf.capacity()),
                      std::span<char>(down_buf.data(), down_buf.capacity()), ls.idle_timeout_ms,
                      /*use_splice=*/true);
}

}  // namespace sluice::proxy
