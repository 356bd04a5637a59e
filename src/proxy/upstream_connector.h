// The way to a server, for HTTP exchanges and TCP tunnels alike: pick a
// server of the backend (balancing, sticky, hash), admit the request
// (max_connections and its queue), and connect (a pooled connection, one
// borrowed from another worker, or a new one with SO_KEEPALIVE and the
// PROXY header where configured). It holds the server's in-flight count
// and slot until release(), and at the end gives a clean connection back
// to the pool.
#pragma once

#include <cstdint>
#include <memory>

#include "core/task.h"
#include "proxy/backend.h"
#include "proxy/client_addresses.h"
#include "proxy/exchange_error.h"
#include "proxy/upstream_connection.h"

namespace sluice {
class CancelToken;
class EventLoop;
}  // namespace sluice

namespace sluice::proxy {

struct WorkerContext;

// Which connections a try may take (pool.reuse), decided from the request
// alone: kept apart so that it reads, and is tested, as a table.
struct ReuseChoice {
  bool pooled = true;  // an idle pooled connection may be taken
  // Only one that finished an exchange within this long.
  std::uint64_t max_idle_ms = UINT64_MAX;
  bool may_borrow = true;  // ask another worker for an idle one
};
// `resendable`: the request can be sent twice (idempotent, body in hand).
// `after_failed_try`: a pooled connection just failed this request.
// `sends_proxy_header`: the server asks for a PROXY header, which names one
// client, so its connections are never shared.
ReuseChoice choose_reuse(ReuseMode mode, bool resendable, bool after_failed_try,
                         bool sends_proxy_header);
// pool.reuse: safe lets a request that cannot be resent use a pooled
// connection only if it finished an exchange this recently.
inline constexpr std::uint64_t kProvenAliveMs = 1'000;

class UpstreamConnector {
 public:
  UpstreamConnector(WorkerContext& ctx, EventLoop& loop, const Backend& backend,
                    CancelToken* cancel);
  ~UpstreamConnector() { release(); }
  UpstreamConnector(const UpstreamConnector&) = delete;
  UpstreamConnector& operator=(const UpstreamConnector&) = delete;

  // Picks a server other than the current one when another is usable;
  // `preferred` (a sticky cookie's server, -1: none) while it takes
  // requests. False when no server is usable. Releases the previous one.
  bool pick(std::uint64_t hash_key, int preferred = -1);
  // The chosen server takes the request without a wait: it has no
  // max_connections, or its slot is already held.
  bool admitted() const { return holding_slot_ || backend_.balancer->limit(server_) == nullptr; }
  // A slot on the chosen server, waiting in its queue if need be. False:
  // the queue is full or timed out (or the client left). `waited`, when
  // given, says whether the slot came after a wait in the queue.
  Task<bool> admit(bool* waited = nullptr);

  struct ConnectOptions {
    ReuseChoice reuse;
    const ClientAddresses* client = nullptr;  // for a PROXY header
  };

  // A connection to the chosen server: null with `error` set when it fails.
  Task<std::unique_ptr<UpstreamConnection>> connect(const ConnectOptions& options);
  ExchangeError connect_error() const { return error_; }
  // Where the chosen server's connections go (its pool key), read now from
  // its state. False: it never resolved.
  bool destination(DestinationId& out) const;
  bool reused() const { return reused_; }

  // Ends the use of `conn`: back to the pool when `reusable` and the pool
  // takes connections to this server; else closed.
  void finish(std::unique_ptr<UpstreamConnection> conn, bool reusable);
  // Lets go of the server: its slot and in-flight count.
  void release();

  int server_index() const { return server_; }
  // The chosen server (null before a pick).
  const BackendServer* server() const {
    return server_ < 0 ? nullptr : &backend_.servers[static_cast<std::size_t>(server_)];
  }
  // The server picked last, still named after release() (for logs).
  const BackendServer* last_server() const { return last_server_; }
  const Backend& backend() const { return backend_; }

 private:
  Task<std::unique_ptr<UpstreamConnection>> connect_waiting(const ConnectOptions& options);
  std::unique_ptr<UpstreamConnection> adopt(std::unique_ptr<UpstreamConnection> conn);
  Task<std::unique_ptr<UpstreamConnection>> connect_new(const ConnectOptions& options);
  std::unique_ptr<UpstreamConnection> take_pooled(const ConnectOptions& options);
  Task<bool> start_tls(UpstreamConnection& conn, std::uint64_t started_ms);

  WorkerContext& ctx_;
  EventLoop& loop_;
  const Backend& backend_;
  CancelToken* cancel_;
  int server_ = -1;  // counted in its in_flight
  const BackendServer* last_server_ = nullptr;
  bool holding_slot_ = false;  // one of its max_connections
  bool reused_ = false;
  // Where this try's connection goes: read once per try from the server's
  // state (the resolver may move it meanwhile), so pool and connect agree.
  const balance::Endpoint* endpoint_ = nullptr;
  ExchangeError error_;
};

}  // namespace sluice::proxy
