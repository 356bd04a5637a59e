// Sampled requests' spans, exported as OTLP/HTTP JSON to a collector off
// the request path. Each worker hands its finished requests to its own
// bounded single-producer queue (no lock, no shared write but its own
// queue's tail); one exporter thread drains every queue and POSTs batches.
// A full queue drops the span and counts it: a collector that is down or
// slow costs spans, never request time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "observe/counter.h"
#include "observe/span.h"

namespace sluice::observe {

struct RequestRecord;

struct TracerSettings {
  std::string service_name = "sluice";
  // Where batches go: http://host:port/path.
  std::string host;
  std::uint16_t port = 4318;
  std::string path = "/v1/traces";
  std::size_t batch = 512;                         // spans per POST at most
  std::size_t queue = 2048;                        // spans waiting, over all workers (split evenly)
  std::chrono::milliseconds flush_interval{5000};  // a partial batch waits at most this long
  std::chrono::milliseconds timeout{10000};        // connecting and each POST

  std::string endpoint() const;  // "http://host:port/path", for logs
};

class Tracer {
 public:
  Tracer(TracerSettings settings, std::size_t workers);
  // Stops the exporter after one last attempt to send what is queued.
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Starts the exporter thread. Call once.
  void start();
  // Stops it, sending what is queued first (bounded by the timeout).
  // Idempotent; workers must no longer call finish().
  void stop();

  // Worker `worker`'s thread only: queues `record`'s span when its trace is
  // sampled; drops it (counted) when the worker's queue is full.
  void finish(std::size_t worker, const RequestRecord& record);

  // Any thread: spans lost, to full queues or failed exports.
  std::uint64_t dropped() const;
  // Any thread: spans a collector accepted (a 2xx to their POST).
  std::uint64_t exported() const { return exported_.get(); }

  const TracerSettings& settings() const { return settings_; }

 private:
  // One worker's queue: a ring the worker fills (tail) and the exporter
  // empties (head), each index written by one thread only.
  struct alignas(64) Queue {
    std::unique_ptr<Span[]> slots;
    std::size_t capacity = 0;
    alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the worker
    Counter dropped;                                 // written by the worker
    alignas(64) std::atomic<std::uint64_t> head{0};  // written by the exporter
  };

  void run();
  bool stopping();
  std::size_t pending() const;
  // At exit: what is still queued is lost.
  void drop_pending();
  // Takes up to `batch` spans from the queues, oldest first per queue,
  // into a document; false when none were waiting.
  bool export_batch();
  bool post(const std::string& body, std::string& why);

  TracerSettings settings_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::size_t next_queue_ = 0;  // the exporter's round-robin start
  std::string body_;            // the exporter's document, reused
  Counter export_dropped_;      // written by the exporter
  Counter exported_;            // written by the exporter
  bool failing_ = false;        // the last export failed (logged once per outage)

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::observe
