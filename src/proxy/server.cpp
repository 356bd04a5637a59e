#include "proxy/server.h"

#include "middleware/middleware_set.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <latch>
#include <optional>
#include <thread>

#include "balance/health_checker.h"
#include "config/model.h"
#include "core/address.h"
#include "core/file_watcher.h"
#include "core/frame_allocator.h"
#include "core/listener.h"
#include "core/listener_cap.h"
#include "core/worker.h"
#include "observe/access_log_writer.h"
#include "observe/series_registry.h"
#include "observe/tracer.h"
#include "observe/worker_metrics.h"
#include "proxy/accept_pipeline.h"
#include "proxy/destination_table.h"
#include "proxy/metrics_slots.h"
#include "proxy/pool_group.h"
#include "proxy/request_identity.h"
#include "proxy/resolver.h"
#include "proxy/snapshot.h"
#include "proxy/tls_builder.h"
#include "proxy/worker_context.h"
#include "route/route_table.h"

namespace sluice::proxy {
namespace {

// Waits for `done` up to `limit_ms`. The work it waits for runs on the
// workers' loops; a stopped loop never counts down, hence the limit.
void wait_for(std::latch& done, int limit_ms) {
  for (int i = 0; i < limit_ms && !done.try_wait(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

Server::Server(const config::Config& config, std::shared_ptr<TlsAssets> tls)
    : destinations_(std::make_unique<DestinationTable>()),
      regexes_(std::make_unique<route::RegexCache>()),
      middlewares_(std::make_unique<middleware::MiddlewareCache>()),
      tls_(tls ? std::move(tls) : std::make_shared<TlsAssets>()) {
  Snapshot::BuildInputs inputs;
  inputs.regexes = regexes_.get();
  inputs.middlewares = middlewares_.get();
  // start-up checked the middlewares already (check_middlewares).
  TlsFindings findings;
  inputs.tls = tls_.get();
  inputs.tls_findings = &findings;
  // /metrics is served by the admin listener, which a reload cannot add.
  if (config.admin) series_ = std::make_unique<observe::SeriesRegistry>();
  inputs.series = series_.get();
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    inputs.slot_of.push_back(i);
    slots_.push_back({config.listeners[i].listen,
                      config.listeners[i].protocol == config::Protocol::http,
                      config.listeners[i].name,
                      {},
                      std::make_shared<ListenerCap>(config.listeners[i].name)});
  }
  snapshot_ = Snapshot::build(config, *destinations_, inputs);
  if (snapshot_->metrics) warn_about_series_cap(*snapshot_->metrics);
  // start-up checked the TLS already (check_tls): nothing new to say here.
  tls_->certificates.forget_unused();
  if (config.watch) certificate_paths_ = certificate_paths(config);
  apply_caps(*snapshot_);
  configure_first_access_log(config);
}

void Server::apply_caps(const Snapshot& snap) {
  for (const auto& ls : snap.listeners)
    slots_[ls->slot].cap->configure(ls->name, ls->max_connections);
}

void Server::apply_socket_options(const Snapshot& snap) const {
  for (const auto& ls : snap.listeners) {
    for (int fd : slots_[ls->slot].fds) {
      // Refused only by a socket that is not TCP (a handed-over one):
      // nothing to defer there.
      (void)set_defer_accept(fd, ls->defer_accept_s);
    }
  }
}

Server::~Server() {
  request_stop(0);
  join();
  contexts_.clear();
}

bool Server::open_sockets(const std::string& name, const std::string& listen, std::vector<int>& fds,
                          InheritedSockets& inherited, std::string& error) const {
  // Sockets handed over by a predecessor first: the same sockets, so not
  // one connection waiting in an accept queue is lost. Socket activation
  // names its sockets by bound address (socket_activation.h).
  auto addr = SocketAddress::resolve(listen);
  auto it = inherited.find(listen);
  if (it == inherited.end() && addr) it = inherited.find(addr->to_string());
  if (it != inherited.end()) {
    fds = std::move(it->second);
    inherited.erase(it);
    // Fewer sockets than workers (one from the service manager): the
    // workers' loops share them, each through a descriptor of its own.
    while (!fds.empty() && fds.size() < workers_.size()) {
      const int fd = ::fcntl(fds.front(), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) break;
      fds.push_back(fd);
    }
    spdlog::info("listener '{}' took over {} socket(s) on {}", name, fds.size(),
                 SocketAddress::local_of(fds.front()).to_string());
    return true;
  }
  if (!addr) {
    error = "listener '" + name + "': cannot resolve address " + listen;
    return false;
  }
  // The first socket binds (port 0: the kernel picks); every other worker
  // binds the port it got, sharing it through SO_REUSEPORT.
  SocketAddress bound = *addr;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto fd = open_listening_socket(bound);
    if (!fd) {
      error = "listener '" + name + "': cannot listen on " + bound.to_string() + ": " +
              std::strerror(fd.error().sys_errno);
      for (int f : fds)
        ::close(f);
      fds.clear();
      return false;
    }
    if (bound.port() == 0) bound = SocketAddress::local_of(*fd);
    fds.push_back(*fd);
  }
  spdlog::info("listener '{}' listening on {} ({} worker{})", name, bound.to_string(),
               workers_.size(), workers_.size() == 1 ? "" : "s");
  return true;
}

bool Server::start(std::string& error, InheritedSockets inherited) {
  if (!access_log_error_.empty()) {
    error = access_log_error_;
    return false;
  }
  const Snapshot* snap = snapshot_.get();
  // One buffer holds a whole request head plus at least 4 KiB of body.
  std::size_t buffer_bytes = 16 * 1024;
  for (const auto& ls : snap->listeners) {
    buffer_bytes = std::max(buffer_bytes, ls->max_head_bytes + 4 * 1024);
  }
  // Room for destinations added by later reloads, so other workers can
  // always read a pool's counts without a lock.
  const std::size_t destinations = std::max<std::size_t>(64, destinations_->size() * 2);
  std::vector<UpstreamPool*> pools;
  for (unsigned i = 0; i < snap->workers; ++i) {
    auto worker = std::make_unique<Worker>(i, nullptr, buffer_bytes);
    worker->loop().set_busy_poll(snap->busy_poll_ns);
    auto ctx = std::make_unique<WorkerContext>(i, worker->loop(), destinations);
    ctx->snapshot = snapshot_;
    if (snap->metrics) {
      auto& m = metrics_.emplace_back(std::make_unique<observe::WorkerMetrics>());
      m->reserve(*snap->metrics);
      m->adopt(snap->metrics);
      ctx->metrics = m.get();
    }
    pools.push_back(&ctx->pool);
    WorkerContext* c = ctx.get();
    worker->set_scoping_handler([c](Worker& w, std::size_t listener_index, ListenerCap* cap, int fd,
                                    const SocketAddress& peer) {
      return serve_connection(c, w, listener_index, cap, fd, peer);
    });
    workers_.push_back(std::move(worker));
    contexts_.push_back(std::move(ctx));
    attach_access_log(i);
  }
  pools_ = std::make_unique<PoolGroup>(std::move(pools));
  for (auto& ctx : contexts_) {
    ctx->group = pools_.get();
    ctx->resumption = &tls_->resumption;
  }
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    const ListenerSettings& ls = *snap->in_slot(slot);
    if (!open_sockets(ls.name, ls.listen, slots_[slot].fds, inherited, error)) {
      for (auto& opened : slots_)
        for (int fd : opened.fds)
          ::close(fd);
      workers_.clear();
      return false;
    }
    // Handed-over sockets may outnumber our workers: each is served.
    for (std::size_t i = 0; i < slots_[slot].fds.size(); ++i)
      workers_[i % workers_.size()]->add_listener(slot, slots_[slot].fds[i], slots_[slot].cap);
  }
  apply_socket_options(*snap);
  for (auto& [listen, fds] : inherited) {
    spdlog::info("no listener is configured on {}: closing its inherited socket(s)", listen);
    for (int fd : fds)
      ::close(fd);
  }
  buffer_bytes_ = buffer_bytes;
  start_tracing(*snap);
  health_ = std::make_unique<balance::HealthChecker>(health_targets(*snap));
  resolver_ = make_resolver(*snap);
  for (auto& worker : workers_)
    worker->start();
  // Ready means accepting: a task posted to each loop runs once that
  // worker has registered its listeners and entered its loop.
  std::latch running(static_cast<std::ptrdiff_t>(workers_.size()));
  for (auto& worker : workers_)
    worker->loop().post([&running] { running.count_down(); });
  running.wait();
  health_->start();
  resolver_->start();
  return true;
}

// The exporter and its queues are made once, for the process's life.
void Server::start_tracing(const Snapshot& snap) {
  const IdentityPolicy& id = *snap.identity;
  if (!id.tracing || !id.otlp) return;
  observe::TracerSettings s;
  s.service_name = id.service_name;
  s.host = id.otlp->host;
  s.port = id.otlp->port;
  s.path = id.otlp->path;
  s.batch = id.otlp->batch;
  s.queue = id.otlp->queue;
  s.flush_interval = id.otlp->flush_interval;
  s.timeout = id.otlp->timeout;
  tracer_ = std::make_unique<observe::Tracer>(std::move(s), contexts_.size());
  for (auto& ctx : contexts_)
    ctx->tracer = tracer_.get();
  tracer_->start();
  spdlog::info("tracing: exporting sampled spans to {}", tracer_->settings().endpoint());
}

std::unique_ptr<Resolver> Server::make_resolver(const Snapshot& snap) {
  // Posted to every worker: each closes its own idle connections there.
  auto retire = [this](DestinationId key) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      WorkerContext* ctx = contexts_[i].get();
      workers_[i]->loop().post([ctx, key] { ctx->pool.retire(key); });
    }
  };
  return std::make_unique<Resolver>(Resolver::targets_of(snap.backends), *destinations_, retire);
}

std::vector<balance::HealthTarget> Server::health_targets(const Snapshot& snap) {
  std::vector<balance::HealthTarget> targets;
  for (const auto& up : snap.backends) {
    if (!up->health) continue;
    // Servers whose names do not resolve too: their probes fail until
    // the names resolve, and then they must pass `rise` probes.
    for (std::size_t i = 0; i < up->servers.size(); ++i) {
      const BackendServer& s = up->servers[i];
      // A TLS backend's http probes shake hands as its requests do.
      targets.push_back({up->name, up->balancer, static_cast<int>(i), *up->health, up->tls,
                         s.transport.sni, s.verify_name, up->protocol != UpstreamProtocol::http1});
    }
  }
  return targets;
}

// A listener keeps its slot (and so its sockets) when a listener with the
// same address and protocol is still configured, whatever its name: first
// the one of the same name, then another. Port 0 is the kernel's choice,
// so two listeners on "host:0" are different sockets: those keep a slot
// only by name.
std::vector<std::size_t> Server::assign_slots(const config::Config& config,
                                              std::vector<Slot>& added) const {
  std::vector<bool> claimed(slots_.size(), false);
  std::vector<std::size_t> slot_of(config.listeners.size(), SIZE_MAX);
  const auto find = [&](const config::Listener& lc, bool same_name) {
    const bool http = lc.protocol == config::Protocol::http;
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      const Slot& slot = slots_[s];
      if (claimed[s] || slot.listen.empty() || slot.listen != lc.listen || slot.http != http) {
        continue;
      }
      if (same_name ? slot.name == lc.name : !lc.listen.ends_with(":0")) return s;
    }
    return SIZE_MAX;
  };
  for (const bool same_name : {true, false}) {
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
      if (slot_of[i] != SIZE_MAX) continue;
      const std::size_t found = find(config.listeners[i], same_name);
      if (found == SIZE_MAX) continue;
      claimed[found] = true;
      slot_of[i] = found;
    }
  }
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    if (slot_of[i] != SIZE_MAX) continue;
    const config::Listener& lc = config.listeners[i];
    slot_of[i] = slots_.size() + added.size();
    added.push_back({lc.listen,
                     lc.protocol == config::Protocol::http,
                     lc.name,
                     {},
                     std::make_shared<ListenerCap>(lc.name)});
  }
  return slot_of;
}

bool Server::reload(const config::Config& config, std::string& error) {
  std::lock_guard lock(control_);
  std::vector<Slot> added;
  Snapshot::BuildInputs inputs;
  inputs.slot_of = assign_slots(config, added);
  inputs.generation = snapshot_->generation + 1;
  inputs.regexes = regexes_.get();
  std::vector<route::RouteFinding> route_errors;
  inputs.route_errors = &route_errors;
  inputs.middlewares = middlewares_.get();
  std::vector<std::string> middleware_errors;
  inputs.middleware_errors = &middleware_errors;
  TlsFindings tls_findings;
  inputs.tls = tls_.get();
  inputs.tls_findings = &tls_findings;
  // Slots are given on a copy, kept only if the configuration applies.
  std::optional<observe::SeriesRegistry> series;
  if (series_) inputs.series = &series.emplace(*series_);
  auto next = Snapshot::build(config, *destinations_, inputs);
  for (const auto& w : tls_findings.warnings)
    spdlog::warn("{}", w);
  if (!route_errors.empty() || !tls_findings.errors.empty() || !middleware_errors.empty()) {
    next.reset();
    regexes_->forget_unused();
    middlewares_->forget_unused();
    tls_->certificates.forget_unused();
    describe_route_errors(config, route_errors, error);
    for (const auto& e : tls_findings.errors)
      error += (error.empty() ? "" : "\n") + e;
    for (const auto& e : middleware_errors)
      error += (error.empty() ? "" : "\n") + e;
    return false;
  }
  if (!restart_needed(*next, error).empty()) return false;
  std::shared_ptr<const observe::AccessLogPolicy> access_log;
  if (!prepare_access_log(config, access_log, error)) return false;
  // New listeners open before anything changes: a port in use refuses
  // the whole reload.
  if (!open_added(*next, added, error)) {
    access_log_->retire_unused(access_log_policy_.get());  // the files it opened
    return false;
  }
  std::vector<std::size_t> removed;
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (!slots_[s].listen.empty() && !next->in_slot(s)) removed.push_back(s);
  }
  // What was learnt about servers that remain carries over.
  for (auto& up : next->backends) {
    for (const auto& before : snapshot_->backends) {
      if (before->name == up->name) up->balancer->inherit(*before->balancer);
    }
  }
  if (series) {
    *series_ = std::move(*series);
    for (auto& m : metrics_)
      m->reserve(*next->metrics);  // before any worker counts under it
    warn_about_series_cap(*next->metrics);
  }
  publish(next, std::move(added), removed);
  publish_access_log(std::move(access_log));
  certificate_paths_ = config.watch ? certificate_paths(config) : std::vector<std::string>();
  restart_certificate_watch();
  restart_background_work(*next);
  snapshot_ = std::move(next);  // the previous snapshot is freed here, or by its last worker
  regexes_->forget_unused();
  middlewares_->forget_unused();
  tls_->certificates.forget_unused();
  // A large table leaves large holes in the heap; hand their pages back
  // so resident memory tracks what is alive, reload after reload.
  ::malloc_trim(0);
  return true;
}

void Server::describe_route_errors(const config::Config& config,
                                   const std::vector<route::RouteFinding>& findings,
                                   std::string& error) const {
  for (const auto& f : findings) {
    const auto& where = config.routes.at(f.route).where;
    error += (error.empty() ? "" : "\n") + config.file + ":" + std::to_string(where.line) + ":" +
             std::to_string(where.column) + ": error: " + f.message;
  }
}

// What a reload cannot change in a running process; sets and returns
// `error` (empty: nothing).
const std::string& Server::restart_needed(const Snapshot& next, std::string& error) const {
  if (next.workers != snapshot_->workers) {
    error = "changing workers needs a restart";
    return error;
  }
  for (const auto& ls : next.listeners) {
    // Buffers are sized at start for the largest head plus room for a body.
    if (ls->max_head_bytes + 4 * 1024 > buffer_bytes_) {
      error = "listener '" + ls->name + "': a larger max_header_size needs a restart";
      return error;
    }
  }
  const IdentityPolicy& now = *snapshot_->identity;
  const IdentityPolicy& then = *next.identity;
  if (now.otlp != then.otlp || (now.otlp && now.service_name != then.service_name)) {
    error = "changing tracing.otlp or tracing.service_name needs a restart";
  }
  return error;
}

// Opens the sockets of the listeners a reload adds; on failure closes what
// it opened and sets `error`.
bool Server::open_added(const Snapshot& next, std::vector<Slot>& added, std::string& error) {
  InheritedSockets none;
  for (std::size_t i = 0; i < added.size(); ++i) {
    const ListenerSettings& ls = *next.in_slot(slots_.size() + i);
    if (!open_sockets(ls.name, ls.listen, added[i].fds, none, error)) {
      for (std::size_t j = 0; j < i; ++j)
        for (int fd : added[j].fds)
          ::close(fd);
      return false;
    }
  }
  return true;
}

// Each worker swaps its pointer on its own thread, then opens and closes
// listeners. Requests in flight keep what they pinned (their listener
// settings, route and backend), not the snapshot. Returns once every worker
// has it, so "applied" in the log means applied.
void Server::publish(const std::shared_ptr<const Snapshot>& next, std::vector<Slot> added,
                     const std::vector<std::size_t>& removed) {
  const std::size_t first_added = slots_.size();
  for (auto& slot : added)
    slots_.push_back(std::move(slot));
  for (const auto& ls : next->listeners)
    slots_[ls->slot].name = ls->name;
  // Before the workers accept on an added listener; a kept listener's
  // count carries over, only its cap changes.
  apply_caps(*next);
  apply_socket_options(*next);
  auto published = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(workers_.size()));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    WorkerContext* ctx = contexts_[i].get();
    Worker* worker = workers_[i].get();
    struct Open {
      std::size_t slot;
      int fd;
      std::shared_ptr<ListenerCap> cap;
    };
    std::vector<Open> opens;
    for (std::size_t s = first_added; s < slots_.size(); ++s)
      opens.push_back({s, slots_[s].fds[i], slots_[s].cap});
    worker->loop().post([ctx, worker, next, published, opens, removed] {
      ctx->snapshot = next;
      worker->loop().set_busy_poll(next->busy_poll_ns);
      if (ctx->metrics) ctx->metrics->adopt(next->metrics);
      for (const auto& open : opens)
        worker->open_listener(open.slot, open.fd, open.cap);
      for (std::size_t slot : removed)
        worker->close_listener(slot);
      published->count_down();
    });
  }
  wait_for(*published, 2'000);
  for (std::size_t s : removed) {
    spdlog::info("listener '{}' on {} removed: it stops accepting; its connections finish",
                 slots_[s].name, slots_[s].listen);
    slots_[s] = Slot{};
  }
}

// Health checks and lookups restart on the new servers (their state
// carried over; the build has just looked every name up).
void Server::restart_background_work(const Snapshot& next) {
  if (health_) health_->stop();
  health_ = std::make_unique<balance::HealthChecker>(health_targets(next));
  health_->start();
  if (resolver_) resolver_->stop();
  resolver_ = make_resolver(next);
  resolver_->start();
}

void Server::stop_accepting() {
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->loop().post([w] { w->stop_accepting(); });
  }
}

Server::InheritedSockets Server::listening_sockets() const {
  std::lock_guard lock(control_);
  InheritedSockets sockets;
  for (const auto& slot : slots_) {
    if (!slot.listen.empty()) sockets[slot.listen] = slot.fds;
  }
  return sockets;
}

Server::MemoryReport Server::memory_report() const {
  std::lock_guard lock(control_);
  MemoryReport report;
  report.generation = snapshot_->generation;
  report.routes = snapshot_->routes->size();
  report.backends = snapshot_->backends.size();
  report.regexes_cached = regexes_->compiled();
  report.buffer_bytes = buffer_bytes_;
  if (!workers_.empty()) report.bulk_buffer_bytes = workers_.front()->bulk_buffers().buffer_bytes();
  auto rows = std::make_shared<std::vector<WorkerMemory>>(workers_.size());
  auto counted = std::make_shared<std::latch>(static_cast<std::ptrdiff_t>(workers_.size()));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    const WorkerContext* ctx = contexts_[i].get();
    worker->loop().post([worker, ctx, rows, counted, i] {
      WorkerMemory& row = (*rows)[i];
      row.client_idle = worker->idle_connection_count();
      row.client_active = worker->connection_count() - row.client_idle;
      row.backend_in_use = ctx->backend_in_use;
      row.backend_idle = ctx->pool.idle_total();
      row.buffers_in_use = worker->buffers().in_use();
      row.buffers_cached = worker->buffers().cached();
      row.bulk_buffers_in_use = worker->bulk_buffers().in_use();
      row.bulk_buffers_cached = worker->bulk_buffers().cached();
      row.frames_cached_bytes = cached_frame_bytes();  // this worker's thread's lists
      counted->count_down();
    });
  }
  wait_for(*counted, 1'000);
  // Counted after the workers: a snapshot a worker just let go is gone.
  report.snapshots_alive = Snapshot::alive();
  report.route_tables_alive = route::RouteTable::alive();
  report.routes_alive = LiveCount<route::Route>::alive();
  report.backends_alive = LiveCount<Backend>::alive();
  if (counted->try_wait()) report.workers = *rows;
  return report;
}

std::shared_ptr<const Snapshot> Server::snapshot() const {
  std::lock_guard lock(control_);
  return snapshot_;
}

void Server::visit_backends(const BackendVisitor& visit) const {
  std::lock_guard lock(control_);
  visit(snapshot_->backends);
}

void Server::watch_certificates(std::function<void()> on_change) {
  std::lock_guard lock(control_);
  on_certificate_change_ = std::move(on_change);
  restart_certificate_watch();
}

void Server::restart_certificate_watch() {
  certificate_watcher_.reset();  // joins its thread: it only ever signals
  if (!on_certificate_change_ || certificate_paths_.empty()) return;
  certificate_watcher_ = std::make_unique<FileWatcher>(certificate_paths_, on_certificate_change_);
  if (!certificate_watcher_->start()) {
    spdlog::warn("watch: cannot watch the certificate files: {}; reload with SIGHUP",
                 std::strerror(errno));
    certificate_watcher_.reset();
  }
}

void Server::visit_listeners(const ListenerVisitor& visit) const {
  std::lock_guard lock(control_);
  visit(snapshot_->listeners);
}

void Server::request_stop(std::uint64_t grace_ms, std::uint64_t idle_close_after_ms) {
  for (auto& worker : workers_)
    worker->request_stop(grace_ms, idle_close_after_ms);
}

void Server::join() {
  for (auto& worker : workers_)
    worker->join();
  stop_access_log();
  if (health_) health_->stop();
  if (resolver_) resolver_->stop();
  if (tracer_) tracer_->stop();  // after the workers: their last spans go too
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
    contexts_[i]->h2_pool.clear();
  }
}

}  // namespace sluice::proxy
