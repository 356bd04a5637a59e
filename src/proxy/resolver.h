// Looks server host names up again every backend's `resolve_interval`, on
// a thread of its own (getaddrinfo blocks; the workers' loops must not),
// and publishes what changed through each server's balance::ServerState:
// a new address (with its own pool key, so new connections go there and
// never to pooled ones of the old address), a name that stopped resolving
// (the server is down) or resolves again. Each change is logged. One
// Resolver per snapshot: a reload replaces it, as it replaces the health
// checker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "balance/balancer.h"
#include "proxy/backend.h"

namespace sluice::proxy {

class DestinationTable;

class Resolver {
 public:
  struct Target {
    std::string backend;
    std::shared_ptr<const balance::Balancer> balancer;
    int server = 0;
    std::string address;  // "name:port" as configured
    std::uint64_t interval_ms = 30'000;
    TransportParams transport;  // with the address, the pool key
  };
  // Servers with an address literal are left out; so are backends with
  // resolve_interval 0.
  static std::vector<Target> targets_of(const std::vector<std::shared_ptr<const Backend>>& ups);

  // `retire(key)`: close the idle pooled connections under `key`, an
  // address a server no longer resolves to (called on this thread).
  Resolver(std::vector<Target> targets, DestinationTable& destinations,
           std::function<void(DestinationId)> retire);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  void start();
  void stop();  // any thread; waits for a lookup in progress to end

 private:
  void run();
  void refresh(const Target& t);

  std::vector<Target> targets_;
  DestinationTable& destinations_;
  std::function<void(DestinationId)> retire_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::proxy
