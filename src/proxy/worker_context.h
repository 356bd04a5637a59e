// What one worker keeps for forwarding, beside its event loop: its upstream
// connection pool, its round-robin positions, and its counters. Touched
// only on the worker's own thread (the pool's shared counts aside).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "balance/balancer.h"
#include "proxy/h2_upstream_pool.h"
#include "proxy/upstream_pool.h"

namespace sluice::tls {
class ResumptionSlots;
}
namespace sluice::observe {
class WorkerMetrics;
class AccessLog;
class Tracer;
}  // namespace sluice::observe

namespace sluice::proxy {

class PoolGroup;
struct Snapshot;

struct ForwardCounters {
  std::uint64_t requests = 0;     // requests sent to a backend
  std::uint64_t reused = 0;       // ... on a connection that carried one before
  std::uint64_t connections = 0;  // backend connections opened
  std::uint64_t borrowed = 0;     // idle connections taken from another worker
  std::uint64_t retries = 0;      // requests sent again (each logged)
  std::uint64_t unanswered = 0;   // sent, unanswered, and not resendable
};

struct WorkerContext {
  WorkerContext(std::size_t worker_index, EventLoop& loop, std::size_t destinations)
      : index(worker_index), pool(loop, destinations), h2_pool(loop) {}

  std::size_t index;
  UpstreamPool pool;
  H2UpstreamPool h2_pool;  // HTTP/2 connections to servers, shared by streams
  PoolGroup* group = nullptr;
  // Sessions backends gave, by destination, shared by every worker: the
  // next TLS connection to a server resumes (null: none kept).
  tls::ResumptionSlots* resumption = nullptr;
  // The configuration new requests see; replaced on this worker's thread
  // when a reload is published. Requests pin it while they run.
  std::shared_ptr<const Snapshot> snapshot;
  ForwardCounters counters;
  // What operators see (observe/); null: off. Owned by the Server; each
  // worker writes only its own metrics.
  observe::WorkerMetrics* metrics = nullptr;
  observe::AccessLog* access_log = nullptr;
  observe::Tracer* tracer = nullptr;
  std::size_t backend_in_use = 0;  // exchanges and TCP tunnels in progress
};

// Counts one use of a backend connection for as long as it lives.
class BackendInUse {
 public:
  explicit BackendInUse(WorkerContext& ctx) : ctx_(ctx) { ++ctx_.backend_in_use; }
  ~BackendInUse() { --ctx_.backend_in_use; }
  BackendInUse(const BackendInUse&) = delete;
  BackendInUse& operator=(const BackendInUse&) = delete;

 private:
  WorkerContext& ctx_;
};

}  // namespace sluice::proxy
