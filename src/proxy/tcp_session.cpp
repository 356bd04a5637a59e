#include "proxy/tcp_session.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cstring>
#include <memory>

#include "core/buffer_pool.h"
#include "core/socket.h"
#include "core/worker.h"
#include "proxy/accept_pipeline.h"
#include "proxy/snapshot.h"
#include "proxy/tunnel.h"
#include "proxy/upstream_connector.h"
#include "proxy/worker_context.h"
#include "tls/client_hello.h"
#include "tls/tls_stream.h"

namespace sluice::proxy {
namespace {

// Connects to a server of the backend, the next one after each failed
// connect. Null when every usable server failed (or the client left).
Task<std::unique_ptr<UpstreamConnection>> connect_to_a_server(UpstreamConnector& connector,
                                                              EventLoop& loop, std::uint64_t key,
                                                              const ClientAddresses& client,
                                                              const char* listener) {
  const Backend& backend = connector.backend();
  UpstreamConnector::ConnectOptions options;
  // A tunnel's connection carries one client's bytes: never a pooled one.
  options.reuse = ReuseChoice{false, 0, false};
  options.client = &client;
  for (std::size_t tries = 0; tries < backend.servers.size(); ++tries) {
    if (!connector.pick(key)) break;
    const bool admitted = co_await connector.admit();
    if (!admitted) co_return nullptr;
    auto conn = co_await connector.connect(options);
    if (conn) {
      backend.balancer->record_success(connector.server_index());
      co_return conn;
    }
    const ExchangeError e = connector.connect_error();
    if (e.side == Side::client) co_return nullptr;
    if (e.side == Side::local) {
      // Ours, not the server's: nothing is recorded against it.
      spdlog::warn("listener '{}' backend '{}': cannot open a connection to {}: {}", listener,
                   backend.name, connector.server()->address, e.reason);
      co_return nullptr;
    }
    backend.balancer->record_failure(connector.server_index(), loop.now_ms());
    spdlog::warn("listener '{}' backend '{}' server {}: connect failed; trying the next server",
                 listener, backend.name, connector.server()->address);
  }
  co_return nullptr;
}

// The key `balance: hash` places on its ring. A tunnel has no header,
// cookie or path, so only source_ip gives one: the client's address as
// the PROXY header names it, if any, hashed as HTTP requests hash it.
std::uint64_t tunnel_hash_key(const Backend& backend, const SocketAddress& source) {
  if (backend.balancer->algorithm() != balance::Algorithm::hash ||
      backend.hash_source != HashSource::source_ip) {
    return balance::Balancer::kNoKey;
  }
  return balance::hash_key(source.host_string());
}

// Reads the client's first bytes into buf[0, used) until they hold a whole
// ClientHello (they stay there, to be forwarded untouched). The server
// name the client asked for; empty when it sent none, when the bytes are
// not TLS or are broken, or when they do not come within `timeout_ms`.
Task<std::string> read_server_name(ByteStream& client, Buffer& buf, std::size_t& used,
                                   std::uint64_t timeout_ms) {
  EventLoop& loop = client.loop();
  const std::uint64_t deadline = loop.now_ms() + timeout_ms;
  while (true) {
    tls::ClientHelloScan scan =
        tls::scan_client_hello(std::span<const char>(buf.data(), used), buf.capacity());
    if (scan.status == tls::ClientHelloStatus::complete) co_return std::move(scan.server_name);
    if (scan.status != tls::ClientHelloStatus::need_more || used == buf.capacity()) co_return "";
    const std::uint64_t now = loop.now_ms();
    if (now >= deadline) co_return "";
    auto r = co_await client.read(std::span<char>(buf.data() + used, buf.capacity() - used),
                                  deadline - now);
    if (!r) co_return "";
    used += *r;
  }
}

// The backend for a client of a listener with sni_routes: the route for
// the name it asked for (exact, then wildcard), else the listener's
// backend, else none (the client is closed).
std::shared_ptr<const Backend> backend_for_name(const Snapshot& snap, const ListenerSettings& ls,
                                                std::string_view name) {
  const std::size_t* found = name.empty() ? nullptr : ls.sni_routes->find(name);
  if (found != nullptr) return snap.backends[*found];
  if (ls.has_fallback) return snap.backends[ls.backend_index];
  return nullptr;
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
  // With sni_routes the backend is known once the ClientHello is read;
  // until then the snapshot is held (a few kilobytes of hello, seconds at
  // most), then only the backend chosen.
  std::shared_ptr<const Snapshot> snapshot = ctx.snapshot;
  std::shared_ptr<const Backend> backend =
      listener->sni_routes ? nullptr : snapshot->backends[listener->backend_index];
  if (!listener->sni_routes) snapshot.reset();
  EventLoop& loop = scope.worker().loop();
  const ListenerSettings& ls = *listener;
  Socket client(loop, fd);
  client.bind_cancel(&scope.cancel_token());
  Buffer up_buf = scope.worker().buffers().acquire();  // client -> server
  std::size_t pending = 0;
  ClientAddresses addresses{SocketAddress::peer_of(fd), SocketAddress::local_of(fd)};
  std::unique_ptr<tls::TlsStream> secure;
  const bool accepted = co_await run_accept_stages(client, ls, up_buf, pending, addresses,
                                                   &scope.cancel_token(), secure);
  if (!accepted) co_return;
  ByteStream& client_stream = secure ? static_cast<ByteStream&>(*secure) : client;
  if (ls.sni_routes) {
    std::string name;
    if (secure) {
      name = std::string(secure->server_name());
    } else {
      name = co_await read_server_name(client, up_buf, pending, ls.header_timeout_ms);
    }
    backend = backend_for_name(*snapshot, ls, name);
    snapshot.reset();
    if (!backend) {
      spdlog::debug("listener '{}' client {}: no sni_route for server name '{}'; closing", ls.name,
                    addresses.source.to_string(), name);
      co_return;
    }
  }
  UpstreamConnector connector(ctx, loop, *backend, &scope.cancel_token());
  auto server = co_await connect_to_a_server(
      connector, loop, tunnel_hash_key(*backend, addresses.source), addresses, ls.name.c_str());
  if (!server) {
    spdlog::warn("listener '{}' client {}: no server of backend '{}' could be reached; closing",
                 ls.name, addresses.source.to_string(), backend->name);
    co_return;
  }
  if (pending > 0) {
    // What the client sent with (or after) its PROXY header.
    auto sent = co_await server->stream().write(std::string_view(up_buf.data(), pending),
                                                ls.idle_timeout_ms);
    if (!sent) co_return;
  }
  Buffer down_buf = scope.worker().buffers().acquire();  // server -> client
  const BackendInUse in_use(ctx);
  co_await run_tunnel(client_stream, server->stream(),
                      std::span<char>(up_buf.data(), up_buf.capacity()),
                      std::span<char>(down_buf.data(), down_buf.capacity()), ls.idle_timeout_ms,
                      /*use_splice=*/true);
}

}  // namespace sluice::proxy
