#include "proxy/upstream_connector.h"

#include "tls/client_context.h"
#include "tls/handshake_failures.h"

#include <sys/socket.h>

#include <cassert>

#include "core/socket.h"
#include "http/proxy_protocol.h"
#include "proxy/pool_group.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

// How long a worker waits for another worker to hand over an idle
// connection before it opens one itself: a cross-thread round trip.
constexpr std::uint64_t kBorrowWaitMs = 20;

ExchangeError connect_failure(ErrorKind kind, Side side, const char* reason) {
  return ExchangeError{kind, side, Phase::connect, side == Side::server, reason};
}

}  // namespace

ReuseChoice choose_reuse(ReuseMode mode, bool resendable, bool after_failed_try,
                         bool sends_proxy_header) {
  ReuseChoice c;
  if (mode == ReuseMode::never || after_failed_try || sends_proxy_header) {
    c.pooled = false;
    c.may_borrow = false;
    return c;
  }
  // pool.reuse: safe. A request we could not resend risks being lost on a
  // connection the server is closing; it takes one only if that connection
  // finished an exchange a moment ago, else a fresh one.
  if (mode == ReuseMode::safe && !resendable) {
    c.max_idle_ms = kProvenAliveMs;
    c.may_borrow = false;
  }
  return c;
}

UpstreamConnector::UpstreamConnector(WorkerContext& ctx, EventLoop& loop, const Backend& backend,
                                     CancelToken* cancel)
    : ctx_(ctx), loop_(loop), backend_(backend), cancel_(cancel) {}

bool UpstreamConnector::pick(std::uint64_t hash_key, int preferred) {
  const balance::Balancer& b = *backend_.balancer;
  // A retry goes elsewhere when another server is usable.
  const int avoid = server_;
  release();
  int s = -1;
  if (preferred >= 0 && preferred != avoid && b.state(preferred).takes_sticky(loop_.now_ms())) {
    s = preferred;
  } else {
    s = b.pick(backend_.balance_state(ctx_.index), loop_.now_ms(), hash_key, avoid);
  }
  if (s < 0) return false;
  server_ = s;
  last_server_ = server();
  b.state(s).in_flight.fetch_add(1, std::memory_order_relaxed);
  return true;
}

Task<bool> UpstreamConnector::admit(bool* waited) {
  assert(server_ >= 0);  // picked first
  balance::ConnectionLimit* limit = backend_.balancer->limit(server_);
  if (limit == nullptr || holding_slot_) co_return true;
  auto acquire = limit->acquire(loop_, backend_.queue_timeout_ms, cancel_);
  holding_slot_ = co_await acquire;
  if (waited != nullptr) *waited = holding_slot_ && !acquire.immediate;
  co_return holding_slot_;
}

void UpstreamConnector::release() {
  if (server_ < 0) return;
  if (holding_slot_) {
    backend_.balancer->limit(server_)->release();
    holding_slot_ = false;
  }
  backend_.balancer->state(server_).in_flight.fetch_sub(1, std::memory_order_relaxed);
  server_ = -1;
}

std::unique_ptr<UpstreamConnection> UpstreamConnector::take_pooled(const ConnectOptions& options) {
  return ctx_.pool.take(endpoint_->pool_key, options.reuse.max_idle_ms);
}

bool UpstreamConnector::destination(DestinationId& out) const {
  assert(server_ >= 0);  // picked first
  const balance::Endpoint* e =
      backend_.balancer->state(server_).endpoint.load(std::memory_order_acquire);
  if (e == nullptr) return false;
  out = e->pool_key;
  return true;
}

// Not a coroutine: a pooled connection (most requests' case) costs no
// frame; only borrowing from another worker or opening one waits, in
// connect_waiting's.
Task<std::unique_ptr<UpstreamConnection>> UpstreamConnector::connect(
    const ConnectOptions& options) {
  using Connected = Task<std::unique_ptr<UpstreamConnection>>;
  assert(server_ >= 0);  // picked first
  reused_ = false;
  endpoint_ = backend_.balancer->state(server_).endpoint.load(std::memory_order_acquire);
  if (endpoint_ == nullptr) {
    // Never resolved: it cannot be picked, but nothing is sent anywhere if it was.
    error_ = connect_failure(ErrorKind::closed, Side::server, "cannot connect to the server");
    return Connected::ready(nullptr);
  }
  // A PROXY header names one client: such connections are never shared.
  assert(!options.reuse.pooled || server()->send_proxy == ProxyHeaderVersion::none);
  if (options.reuse.pooled) {
    if (std::unique_ptr<UpstreamConnection> conn = take_pooled(options)) {
      return Connected::ready(adopt(std::move(conn)));
    }
  }
  return connect_waiting(options);
}

// An idle connection taken for this try: its waits end with the exchange's.
std::unique_ptr<UpstreamConnection> UpstreamConnector::adopt(
    std::unique_ptr<UpstreamConnection> conn) {
  reused_ = true;
  conn->stream().bind_cancel(cancel_);
  return conn;
}

// No idle connection of ours: one another worker holds, or a new one.
Task<std::unique_ptr<UpstreamConnection>> UpstreamConnector::connect_waiting(
    const ConnectOptions& options) {
  if (options.reuse.pooled && options.reuse.may_borrow && ctx_.group != nullptr) {
    const DestinationId d = endpoint_->pool_key;
    if (auto donor = ctx_.group->donor_for(ctx_.index, d)) {
      co_await ctx_.group->borrow(ctx_.index, *donor, d, kBorrowWaitMs, cancel_);
      if (std::unique_ptr<UpstreamConnection> conn = ctx_.pool.take(d)) {
        ++ctx_.counters.borrowed;
        co_return adopt(std::move(conn));
      }
    }
  }
  std::unique_ptr<UpstreamConnection> conn = co_await connect_new(options);
  if (conn) conn->stream().bind_cancel(cancel_);
  co_return conn;
}

Task<std::unique_ptr<UpstreamConnection>> UpstreamConnector::connect_new(
    const ConnectOptions& options) {
  const std::uint64_t started_ms = loop_.now_ms();
  auto fd = co_await connect_to(loop_, endpoint_->addr, backend_.connect_timeout_ms, cancel_);
  if (!fd) {
    const Errc e = fd.code();
    if (e == Errc::cancelled) {
      error_ = connect_failure(ErrorKind::closed, Side::client, "the client left");
    } else if (fd.error().is_local_shortage()) {
      // Ours (descriptors, ports), not the server's: another server would
      // fare no better.
      error_ =
          connect_failure(ErrorKind::shortage, Side::local,
                          "cannot open a connection: this host is out of descriptors or ports");
    } else if (e == Errc::timeout) {
      error_ =
          connect_failure(ErrorKind::timeout, Side::server, "connecting to the server timed out");
    } else if (e == Errc::refused) {
      error_ =
          connect_failure(ErrorKind::refused, Side::server, "connection refused by the server");
    } else {
      error_ = connect_failure(ErrorKind::closed, Side::server, "cannot connect to the server");
    }
    co_return nullptr;
  }
  if (backend_.tcp_keepalive) {
    // TCP keepalive probes (SO_KEEPALIVE) find dead peers on long-idle
    // connections; HTTP keep-alive (reuse) does not depend on it.
    int one = 1;
    setsockopt(*fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  }
  auto conn = std::make_unique<UpstreamConnection>(loop_, *fd, endpoint_->pool_key);
  conn->stream().bind_cancel(cancel_);
  ++ctx_.counters.connections;
  const BackendServer& s = *server();
  if (s.send_proxy != ProxyHeaderVersion::none && options.client != nullptr) {
    const std::string header =
        s.send_proxy == ProxyHeaderVersion::v1
            ? http::make_proxy_header_v1(options.client->source, options.client->destination)
            : http::make_proxy_header_v2(options.client->source, options.client->destination);
    const auto sent = co_await conn->stream().write(header, backend_.connect_timeout_ms);
    if (!sent) {
      error_ = connect_failure(ErrorKind::closed, Side::server, "cannot connect to the server");
      co_return nullptr;
    }
  }
  if (backend_.tls) {
    const bool secured = co_await start_tls(*conn, started_ms);
    if (!secured) co_return nullptr;
  }
  co_return conn;
}

// TLS to the server, within what is left of the connect timeout: resumes
// the destination's last session when there is one. A failed handshake
// (a certificate that does not verify, no common protocol) is the
// server's fault as a refused connection is: 502, another server may be
// tried, and one line a second per cause says why.
Task<bool> UpstreamConnector::start_tls(UpstreamConnection& conn, std::uint64_t started_ms) {
  const BackendServer& s = *server();
  tls::ResumptionSlot* slot =
      ctx_.resumption != nullptr ? ctx_.resumption->slot(endpoint_->pool_key) : nullptr;
  SSL* ssl = backend_.tls->new_ssl(s.transport.sni, s.verify_name, slot);
  if (ssl == nullptr) {
    error_ = connect_failure(ErrorKind::shortage, Side::local, "out of memory for TLS");
    co_return false;
  }
  tls::TlsStream& secure = conn.start_tls(ssl);
  secure.bind_cancel(cancel_);
  const std::uint64_t spent = loop_.now_ms() - started_ms;
  const std::uint64_t budget = backend_.connect_timeout_ms;
  const bool done = co_await secure.handshake(budget > spent ? budget - spent : 1);
  if (done) co_return true;
  if (secure.timed_out()) {
    error_ = connect_failure(ErrorKind::timeout, Side::server,
                             "TLS handshake with the server timed out");
    co_return false;
  }
  tls::report_handshake_failure("backend '" + backend_.name + "' server " + s.address,
                                secure.failure(), loop_.now_ms());
  // `refused`, not `malformed`: the retry rules give up on a server that
  // answered badly, but here nothing was sent, so the request moves on and
  // the failure counts against the server, as a refused connect does.
  error_ =
      connect_failure(ErrorKind::refused, Side::server, "TLS handshake with the server failed");
  co_return false;
}

void UpstreamConnector::finish(std::unique_ptr<UpstreamConnection> conn, bool reusable) {
  if (!conn) return;
  if (reusable && backend_.pool.reuse != ReuseMode::never && server_ >= 0 &&
      server()->send_proxy == ProxyHeaderVersion::none) {
    conn->count_exchange();
    conn->stream().bind_cancel(nullptr);
    ctx_.pool.put(std::move(conn), backend_.pool);
  }
}

}  // namespace sluice::proxy
