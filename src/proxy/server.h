// The running server: one Worker per configured worker thread, each with its
// own listening socket per listener (SO_REUSEPORT), all serving one immutable
// configuration snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice {
class FileWatcher;
class ListenerCap;
class Worker;
namespace balance {
class HealthChecker;
struct HealthTarget;
}  // namespace balance
namespace config {
struct Config;
}
namespace route {
class RegexCache;
struct RouteFinding;
}  // namespace route
namespace middleware {
class MiddlewareCache;
}
namespace observe {
class AccessLogWriter;
struct AccessLogPolicy;
class Tracer;
class MetricsWriter;
class SeriesRegistry;
class WorkerMetrics;
}  // namespace observe
}  // namespace sluice

namespace sluice::proxy {

struct Snapshot;
struct WorkerContext;
class DestinationTable;
class PoolGroup;
class Resolver;
struct Backend;

struct TlsAssets;
struct ListenerSettings;

class Server {
 public:
  // Builds the first snapshot; the configuration model is not kept (a
  // reload's model is freed as soon as its snapshot is built).
  // `tls`: assets a check of the same configuration already filled (its
  // certificates are then not read twice); null: new ones.
  explicit Server(const config::Config& config, std::shared_ptr<TlsAssets> tls = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listening sockets a predecessor process handed over (binary upgrade),
  // by listen address as configured. start() uses them instead of binding
  // and closes those no listener claims.
  using InheritedSockets = std::map<std::string, std::vector<int>>;

  // Binds every listener (port 0: the kernel picks, and every worker shares
  // that port), logs "listener 'NAME' listening on ADDR", starts the workers.
  // False with `error` set if any listener cannot be opened; nothing runs then.
  bool start(std::string& error, InheritedSockets inherited = {});
  // After start(), from any thread but a worker's (it waits for every
  // worker): applies a new configuration to every worker
  // without closing any connection. Listeners whose address and protocol
  // stay keep their sockets; added ones open, removed ones stop accepting
  // and drain; backend pools and health of servers that remain are kept.
  // False with `error` (one problem per line) when the configuration has
  // route errors or a change that needs a restart; nothing changes then.
  bool reload(const config::Config& config, std::string& error);
  // Any thread: stop accepting, keep serving open connections (a successor
  // process accepts on the same sockets now).
  void stop_accepting();
  // The listening sockets by listen address, for a successor process.
  InheritedSockets listening_sockets() const;

  // Any thread: stop accepting, finish open work within grace_ms. Idle
  // connections close at once, or after idle_close_after_ms (see Worker).
  void request_stop(std::uint64_t grace_ms, std::uint64_t idle_close_after_ms = 0);
  // Waits until every worker has stopped, then closes idle backend
  // connections.
  void join();
  std::size_t worker_count() const { return workers_.size(); }

  // What /debug/memory shows. Waits (at most a second) for every worker
  // to count its own connections; never call it from a worker thread.
  struct WorkerMemory {
    std::size_t client_active = 0;   // client connections with a request in progress
    std::size_t client_idle = 0;     // keep-alive client connections between requests
    std::size_t backend_in_use = 0;  // exchanges and TCP tunnels holding a backend connection
    std::size_t backend_idle = 0;    // pooled backend connections
    std::size_t buffers_in_use = 0;
    std::size_t buffers_cached = 0;
    std::size_t bulk_buffers_in_use = 0;  // lent while a large body flows (core/worker.h)
    std::size_t bulk_buffers_cached = 0;
    std::size_t frames_cached_bytes = 0;  // coroutine frames kept for reuse
  };
  struct MemoryReport {
    std::uint64_t generation = 0;  // of the configuration in force
    std::size_t snapshots_alive = 0;
    std::size_t route_tables_alive = 0;
    std::size_t routes = 0;          // in the table in force
    std::size_t routes_alive = 0;    // ... plus those requests and tunnels still hold
    std::size_t backends = 0;        // in the snapshot in force
    std::size_t backends_alive = 0;  // ... plus those requests and tunnels still hold
    std::size_t regexes_cached = 0;  // compiled patterns kept for the next reload
    std::size_t buffer_bytes = 0;    // size of one pooled buffer
    std::size_t bulk_buffer_bytes = 0;
    std::vector<WorkerMemory> workers;
  };
  MemoryReport memory_report() const;

  // Any thread but a worker's: calls `visit` with the backends in force
  // while no reload can run, so a server state set there (drain, disable)
  // is the one the next reload inherits, never one it has already copied.
  using BackendVisitor = std::function<void(const std::vector<std::shared_ptr<const Backend>>&)>;
  void visit_backends(const BackendVisitor& visit) const;
  // The same for the listeners in force: a certificate installed there
  // (ServerContext::replace_certificates) lasts until the next reload.
  using ListenerVisitor =
      std::function<void(const std::vector<std::shared_ptr<const ListenerSettings>>&)>;
  void visit_listeners(const ListenerVisitor& visit) const;
  // Any thread: the configuration in force (GET /config, /routes/explain).
  std::shared_ptr<const Snapshot> snapshot() const;

  // /metrics (server_metrics.cpp): the counts of finished requests summed
  // over the workers, then what is read from live state (connections,
  // server health and state, the configuration's generation), then the
  // families of every added source. Any thread but a worker's. Without an
  // admin listener metrics are off and only live state is written.
  void write_metrics(observe::MetricsWriter& out) const;
  // Any thread: `source` writes more families at each scrape (e.g. the
  // drops of an access log's queue), after the server's own.
  using MetricsSource = std::function<void(observe::MetricsWriter&)>;
  void add_metrics_source(MetricsSource source);

  // With `watch: true`, the certificate, key and CA files the configuration
  // names are watched too (the set follows each reload): a change calls
  // `on_change`, from the watcher's thread. Call once, after start().
  void watch_certificates(std::function<void()> on_change);

  // Any thread: the access log's files are opened again by name once the
  // lines so far are written (SIGUSR1, after logrotate renamed them).
  void reopen_access_log();
  // Any thread: access log lines dropped because a worker's ring was full.
  std::uint64_t access_log_dropped() const;
  // The span exporter (tracing.otlp), for its counts; null: none.
  const observe::Tracer* tracer() const { return tracer_.get(); }

 private:
  // Held by reload() and the reports: they may come from the main thread
  // (signals) and the admin thread at once.
  mutable std::mutex control_;
  std::unique_ptr<DestinationTable> destinations_;
  std::shared_ptr<const Snapshot> snapshot_;
  // Metrics (null / empty: off): the slots of names, one count store per
  // worker (each written by its worker only), and more families to write.
  std::unique_ptr<observe::SeriesRegistry> series_;
  std::vector<std::unique_ptr<observe::WorkerMetrics>> metrics_;
  std::vector<MetricsSource> metrics_sources_;
  void write_live_metrics(const Snapshot& snap, observe::MetricsWriter& out) const;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Destroyed before the workers: their pools cancel timers on the loops.
  std::vector<std::unique_ptr<WorkerContext>> contexts_;
  std::unique_ptr<PoolGroup> pools_;
  std::unique_ptr<balance::HealthChecker> health_;  // one probe per checked server
  std::unique_ptr<Resolver> resolver_;              // looks server names up again
  std::unique_ptr<observe::Tracer> tracer_;         // tracing.otlp: exports spans; null: off
  void start_tracing(const Snapshot& snap);
  std::size_t buffer_bytes_ = 0;
  std::unique_ptr<route::RegexCache> regexes_;
  // Middlewares whose definitions a reload leaves unchanged keep their
  // state (middleware_set.h).
  std::unique_ptr<middleware::MiddlewareCache> middlewares_;
  std::shared_ptr<TlsAssets> tls_;  // ticket keys, loaded certificates, backend sessions
  std::vector<std::string> certificate_paths_;  // to watch (watch: true), as last configured
  std::function<void()> on_certificate_change_;
  std::unique_ptr<FileWatcher> certificate_watcher_;
  void restart_certificate_watch();
  // Listener slots: the listen address and protocol each slot's sockets
  // serve ("" once removed), those sockets (one per worker), and the open
  // connections they count against max_connections (kept by a reload that
  // keeps the slot).
  struct Slot {
    std::string listen;
    bool http = true;
    std::string name;  // the listener serving it now
    std::vector<int> fds;
    std::shared_ptr<ListenerCap> cap;
  };
  std::vector<Slot> slots_;

  static std::vector<balance::HealthTarget> health_targets(const Snapshot& snap);
  // Gives each listener's cap its max_connections and name.
  void apply_caps(const Snapshot& snap);
  // Socket options the listeners' settings ask for (defer_accept), on
  // their open sockets: after start opens them, and at each reload.
  void apply_socket_options(const Snapshot& snap) const;
  // A resolver for `snap`'s named servers, not started.
  std::unique_ptr<Resolver> make_resolver(const Snapshot& snap);
  std::vector<std::size_t> assign_slots(const config::Config& config,
                                        std::vector<Slot>& added) const;
  bool open_sockets(const std::string& name, const std::string& listen, std::vector<int>& fds,
                    InheritedSockets& inherited, std::string& error) const;
  // The phases of reload().
  void describe_route_errors(const config::Config& config,
                             const std::vector<route::RouteFinding>& findings,
                             std::string& error) const;
  const std::string& restart_needed(const Snapshot& next, std::string& error) const;
  bool open_added(const Snapshot& next, std::vector<Slot>& added, std::string& error);
  void publish(const std::shared_ptr<const Snapshot>& next, std::vector<Slot> added,
               const std::vector<std::size_t>& removed);
  void restart_background_work(const Snapshot& next);

  // The access log (server_access_log.cpp): one writer, one ring per
  // worker; the policy in force and why the first one could not be had.
  std::unique_ptr<observe::AccessLogWriter> access_log_;
  std::shared_ptr<const observe::AccessLogPolicy> access_log_policy_;
  std::string access_log_error_;
  void configure_first_access_log(const config::Config& config);
  void attach_access_log(std::size_t worker);
  // reload(): the policy of `config` (false with `error`: nothing changes),
  // then, once published, every worker follows it.
  bool prepare_access_log(const config::Config& config,
                          std::shared_ptr<const observe::AccessLogPolicy>& next,
                          std::string& error);
  void publish_access_log(std::shared_ptr<const observe::AccessLogPolicy> next);
  void stop_access_log();
};

}  // namespace sluice::proxy
