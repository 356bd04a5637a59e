// What /metrics reads from the running server (server.h, write_metrics()).
#include <chrono>
#include <latch>
#include <thread>

#include "core/listener_cap.h"
#include "core/worker.h"
#include "observe/metrics_render.h"
#include "observe/metrics_text.h"
#include "observe/tracer.h"
#include "observe/worker_metrics.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"

namespace sluice::proxy {
namespace {

using observe::Label;
using observe::MetricType;

const char* admin_state_name(balance::AdminState s) {
  switch (s) {
    case balance::AdminState::draining:
      return "draining";
    case balance::AdminState::disabled:
      return "disabled";
    case balance::AdminState::enabled:
      break;
  }
  return "enabled";
}

// Each server with series, with its backend.
template <typename Fn>
void each_server(const Snapshot& snap, Fn&& fn) {
  for (const auto& up : snap.backends) {
    for (std::size_t i = 0; i < up->servers.size(); ++i) {
      if (up->servers[i].metrics_slot == observe::kNoSlot) continue;
      fn(*up, static_cast<int>(i));
    }
  }
}

}  // namespace

void Server::add_metrics_source(MetricsSource source) {
  std::lock_guard lock(control_);
  metrics_sources_.push_back(std::move(source));
}

void Server::write_metrics(observe::MetricsWriter& out) const {
  // A reload publishes under this lock: every worker has adopted the
  // layout rendered here, and zeroed the slots it gave to new names.
  std::lock_guard lock(control_);
  const Snapshot& snap = *snapshot_;
  if (snap.metrics) {
    std::vector<const observe::WorkerMetrics*> workers;
    for (const auto& m : metrics_)
      workers.push_back(m.get());
    observe::render_request_metrics(*snap.metrics, workers, out);
  }
  write_live_metrics(snap, out);
  for (const auto& source : metrics_sources_)
    source(out);
}

void Server::write_live_metrics(const Snapshot& snap, observe::MetricsWriter& out) const {
  // Idle client connections are counted by each worker on its own thread
  // (open ones are in the listener's shared cap).
  auto idle = std::make_shared<std::vector<std::vector<std::size_t>>>(workers_.size());
  auto counted = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(workers_.size()));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    worker->loop().post([worker, idle, counted, i] {
      worker->count_idle_by_listener((*idle)[i]);
      counted->count_down();
    });
  }
  for (int waited = 0; waited < 1'000 && !counted->try_wait(); ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool complete = counted->try_wait();

  out.family("sluice_client_connections", MetricType::gauge,
             "Open client connections, by listener: active (a request in progress) or idle "
             "(keep-alive, between requests).");
  for (const auto& ls : snap.listeners) {
    if (ls->metrics_slot == observe::kNoSlot || ls->slot >= slots_.size()) continue;
    std::size_t idle_count = 0;
    if (complete) {
      for (const auto& counts : *idle)
        idle_count += ls->slot < counts.size() ? counts[ls->slot] : 0;
    }
    const std::size_t open = slots_[ls->slot].cap ? slots_[ls->slot].cap->open() : 0;
    out.sample("sluice_client_connections", {{"listener", ls->name}, {"state", "active"}},
               static_cast<std::uint64_t>(open > idle_count ? open - idle_count : 0));
    out.sample("sluice_client_connections", {{"listener", ls->name}, {"state", "idle"}},
               static_cast<std::uint64_t>(idle_count));
  }

  out.family("sluice_server_connections", MetricType::gauge,
             "Connections to a server: active (carrying a request, all workers) or idle "
             "(pooled).");
  each_server(snap, [&](const Backend& up, int s) {
    const balance::ServerState& st = up.balancer->state(s);
    std::uint64_t pooled = 0;
    if (const balance::Endpoint* e = st.endpoint.load(std::memory_order_acquire)) {
      for (const auto& ctx : contexts_)
        pooled += ctx->pool.idle_count(e->pool_key);
    }
    const std::string& address = up.servers[static_cast<std::size_t>(s)].address;
    const int active = st.in_flight.load(std::memory_order_relaxed);
    out.sample("sluice_server_connections",
               {{"backend", up.name}, {"server", address}, {"state", "active"}},
               static_cast<std::uint64_t>(active > 0 ? active : 0));
    out.sample("sluice_server_connections",
               {{"backend", up.name}, {"server", address}, {"state", "idle"}}, pooled);
  });

  out.family("sluice_server_up", MetricType::gauge,
             "1 when the server may get requests (its name resolves, its checks pass, passive "
             "health has not ejected it), else 0.");
  const std::uint64_t now_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  each_server(snap, [&](const Backend& up, int s) {
    out.sample("sluice_server_up",
               {{"backend", up.name}, {"server", up.servers[static_cast<std::size_t>(s)].address}},
               static_cast<std::uint64_t>(up.balancer->state(s).usable(now_ms) ? 1 : 0));
  });

  out.family("sluice_server_admin_state", MetricType::gauge,
             "1 for the operator's state of the server (enabled, draining or disabled), 0 for "
             "the others.");
  each_server(snap, [&](const Backend& up, int s) {
    const auto now = up.balancer->state(s).admin.load(std::memory_order_relaxed);
    for (const auto state : {balance::AdminState::enabled, balance::AdminState::draining,
                             balance::AdminState::disabled}) {
      out.sample("sluice_server_admin_state",
                 {{"backend", up.name},
                  {"server", up.servers[static_cast<std::size_t>(s)].address},
                  {"state", admin_state_name(state)}},
                 static_cast<std::uint64_t>(state == now ? 1 : 0));
    }
  });

  out.family("sluice_server_weight", MetricType::gauge,
             "The server's balancing weight (as an operator set it, else as configured).");
  each_server(snap, [&](const Backend& up, int s) {
    out.sample("sluice_server_weight",
               {{"backend", up.name}, {"server", up.servers[static_cast<std::size_t>(s)].address}},
               static_cast<std::uint64_t>(std::max(0, up.balancer->weight_of(s))));
  });

  out.family("sluice_server_ejections_total", MetricType::counter,
             "Times passive health ejected the server after failures in a row.");
  each_server(snap, [&](const Backend& up, int s) {
    out.sample("sluice_server_ejections_total",
               {{"backend", up.name}, {"server", up.servers[static_cast<std::size_t>(s)].address}},
               up.balancer->state(s).ejections_total.load(std::memory_order_relaxed));
  });

  out.family("sluice_server_queue_length", MetricType::gauge,
             "Requests waiting for a place at the server (its max_connections).");
  each_server(snap, [&](const Backend& up, int s) {
    balance::ConnectionLimit* limit = up.balancer->limit(s);
    out.sample("sluice_server_queue_length",
               {{"backend", up.name}, {"server", up.servers[static_cast<std::size_t>(s)].address}},
               static_cast<std::uint64_t>(limit != nullptr ? limit->waiting() : 0));
  });

  out.family("sluice_config_generation", MetricType::gauge,
             "The configuration in force: 1 for the one loaded at start, one more per reload "
             "applied.");
  out.sample("sluice_config_generation", {}, snap.generation);

  out.family("sluice_access_log_dropped_total", MetricType::counter,
             "Access log lines dropped: a worker's queue to the writer was full.");
  out.sample("sluice_access_log_dropped_total", {}, access_log_dropped());
  out.family("sluice_trace_spans_dropped_total", MetricType::counter,
             "Sampled spans not exported: a worker's queue was full, or the collector refused "
             "them.");
  out.sample("sluice_trace_spans_dropped_total", {},
             tracer_ ? tracer_->dropped() : std::uint64_t{0});
  out.family("sluice_trace_spans_exported_total", MetricType::counter,
             "Sampled spans a collector accepted.");
  out.sample("sluice_trace_spans_exported_total", {},
             tracer_ ? tracer_->exported() : std::uint64_t{0});
}

}  // namespace sluice::proxy
