// Chooses the server for a request: round robin (smooth weighted), least
// connections, random, power of two choices, or consistent hash, among the
// servers that are healthy and not ejected (backups only when no primary
// is). Immutable after construction and shared by all workers; the only
// per-worker part (round-robin positions, a random generator) lives in
// WorkerState, and the shared per-server counters in ServerState.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "balance/connection_limit.h"
#include "balance/consistent_hash.h"
#include "balance/server_state.h"

namespace sluice::balance {

enum class Algorithm : std::uint8_t { round_robin, least_conn, random, p2c, hash };

struct ServerSpec {
  std::string address;
  int weight = 1;
  bool backup = false;
  int max_connections = 0;          // requests in flight, all workers; 0: no limit
  std::uint64_t slow_start_ms = 0;  // ramp to full weight after coming back up
};

class Balancer {
 public:
  // `max_queue`: requests that may wait for a server at max_connections,
  // per server (0: none wait).
  static constexpr std::size_t kDefaultMaxQueue = 1024;
  Balancer(Algorithm algorithm, std::vector<ServerSpec> servers,
           std::size_t max_queue = kDefaultMaxQueue);

  struct WorkerState {
    std::vector<std::int64_t> current;  // smooth weighted round robin
    std::uint64_t rng = 0x9e3779b97f4a7c15ull;
    // `hash`: the ring this worker reads, and its version (a weight set at
    // run time builds a new ring; the worker takes it at its next pick).
    std::shared_ptr<const ConsistentHash> ring;
    std::uint64_t ring_version = 0;
  };
  WorkerState make_worker_state(unsigned worker) const;

  // A server index, or -1 when none is usable. `key` is used by `hash`;
  // `avoid` (a server a retry just failed on) is skipped when another
  // server is usable.
  int pick(WorkerState& ws, std::uint64_t now_ms, std::uint64_t key, int avoid = -1) const;
  // The `key` of a request that has none (its hash header or cookie is
  // missing): `hash` sends it to a random server by weight, as HAProxy and
  // Envoy spread keyless requests, instead of piling every one of them on
  // the one server that owns a fixed key. hash_key() never returns it.
  static constexpr std::uint64_t kNoKey = 0;

  ServerState& state(int server) const { return states_[static_cast<std::size_t>(server)]; }
  const ServerSpec& spec(int server) const { return specs_[static_cast<std::size_t>(server)]; }
  // The server's max_connections gate, or null.
  ConnectionLimit* limit(int server) const {
    return limits_[static_cast<std::size_t>(server)].get();
  }
  std::size_t size() const { return specs_.size(); }
  Algorithm algorithm() const { return algorithm_; }

  // The weight in force: spec(s).weight until set_weight() changes it.
  int weight_of(int server) const { return state(server).weight.load(std::memory_order_relaxed); }
  // Any thread (the admin API): `server`'s share from its next pick on,
  // 0..kMaxWeight (0: it takes no new requests by balancing). With `hash`,
  // a new ring is built and each worker takes it at its next pick: keys
  // move to or from this server only.
  void set_weight(int server, int weight) const;
  static constexpr int kMaxWeight = 256;  // as the configuration's

  // After a reload: servers of `old` with the same address keep what was
  // learnt about them (health, ejection, latency), so a server known to be
  // down does not get traffic again until its checks say it is up, and
  // their max_connections slots, so the limit holds across the reload.
  // The operator's admin state and weight carry over too; a weight only
  // while the file still gives the server the weight it gave before (a
  // new weight in the file is the newer word, and wins).
  // Called before this balancer is published.
  void inherit(const Balancer& old) const;

  // Passive health: a failure to connect or to get an answer. After
  // kFailuresToEject in a row the server is ejected for a back-off that
  // doubles with each ejection in a row (1 s, 2 s, ... 30 s).
  void record_failure(int server, std::uint64_t now_ms) const;
  void record_success(int server) const;
  static constexpr int kFailuresToEject = 3;
  // A time later than any ejection ends: picking "at" it ignores ejections.
  static constexpr std::uint64_t kIgnoreEjections = UINT64_MAX;

 private:
  bool candidate(int s, bool backups, std::uint64_t now_ms, int avoid) const;
  // The weight in thousandths, reduced while the server is slow-starting.
  std::int64_t weight(int s, std::uint64_t now_ms) const;
  int pick_only_server(std::uint64_t now_ms) const;
  int pick_among(WorkerState& ws, bool backups, std::uint64_t now_ms, std::uint64_t key,
                 int avoid) const;
  // The ring of the weights in force, refreshed in `ws` after a change.
  const ConsistentHash& ring(WorkerState& ws) const;
  void rebuild_ring() const;
  // inherit() for one server's weight: `old`'s server `from` is this one's `to`.
  void inherit_weight(const Balancer& old, std::size_t from, int to) const;

  Algorithm algorithm_;
  std::vector<ServerSpec> specs_;
  std::unique_ptr<ServerState[]> states_;
  // Shared with the balancer a reload builds next, for servers that remain,
  // so requests started before the reload still count against the limit.
  mutable std::vector<std::shared_ptr<ConnectionLimit>> limits_;
  // `hash`: the ring of the weights in force. Replaced (never changed) by
  // set_weight() under ring_mutex_; ring_version_ tells workers to copy
  // the pointer, so the request path takes the lock only after a change.
  mutable std::mutex ring_mutex_;
  mutable std::mutex ring_build_mutex_;
  mutable std::shared_ptr<const ConsistentHash> ring_;
  mutable std::atomic<std::uint64_t> ring_version_{0};
};

}  // namespace sluice::balance
