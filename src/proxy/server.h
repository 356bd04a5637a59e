// The running server: one Worker per configured worker thread, each with its
// own listening socket per listener (SO_REUSEPORT), all serving one immutable
// configuration snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice {
class Worker;
namespace balance {
class HealthChecker;
struct HealthTarget;
}  // namespace balance
namespace config {
struct Config;
}
}  // namespace sluice

namespace sluice::proxy {

struct Snapshot;
struct WorkerContext;
class DestinationTable;
class PoolGroup;

class Server {
 public:
  explicit Server(std::shared_ptr<const config::Config> config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener (port 0: the kernel picks, and every worker shares
  // that port), logs "listener 'NAME' listening on ADDR", starts the workers.
  // False with `error` set if any listener cannot be opened; nothing runs then.
  bool start(std::string& error);
  // Main thread, after start(): applies a new configuration (routes,
  // backends, listener settings) to every worker without closing any
  // connection; backend pools of servers that remain are kept. False with
  // `error` when the change needs a restart; nothing changes then.
  bool reload(std::shared_ptr<const config::Config> config, std::string& error);
  // Any thread: stop accepting, finish open work within grace_ms.
  void request_stop(std::uint64_t grace_ms);
  // Waits until every worker has stopped, then closes idle backend
  // connections.
  void join();
  std::size_t worker_count() const { return workers_.size(); }

 private:
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<DestinationTable> destinations_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // Destroyed before the workers: their pools cancel timers on the loops.
  std::vector<std::unique_ptr<WorkerContext>> contexts_;
  std::unique_ptr<PoolGroup> pools_;
  std::unique_ptr<balance::HealthChecker> health_;  // one probe per checked server
  std::size_t buffer_bytes_ = 0;

  static std::vector<balance::HealthTarget> health_targets(const Snapshot& snap);
};

}  // namespace sluice::proxy
