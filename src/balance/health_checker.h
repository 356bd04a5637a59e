// Active health checks: one probe loop per checked server, run once per
// server (not per worker) on the checker's own thread and event loop. A
// server goes down after `fall` failed probes in a row and up again after
// `rise` good ones; workers see the result through ServerState::healthy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "balance/balancer.h"
#include "core/address.h"
#include "core/event_loop.h"
#include "core/task.h"
#include "core/waiter.h"

namespace sluice {
class ByteStream;
}
namespace sluice::tls {
class ClientContext;
}

namespace sluice::balance {

struct HealthSpec {
  bool http = true;  // false: a TCP connect is the probe
  std::string path = "/";
  std::string host;  // the Host field sent; "": the server's address as configured
  // Statuses that count as healthy: runs, both ends included. By default
  // any success or redirect, so a server answering "/" with 302 is up.
  std::vector<std::pair<int, int>> expect_status{{200, 399}};
  std::uint64_t interval_ms = 2'000;
  std::uint64_t timeout_ms = 1'000;
  int rise = 2;
  int fall = 3;
};

struct HealthTarget {
  std::string backend;
  std::shared_ptr<const Balancer> balancer;
  int server = 0;  // its address: the server's state (the resolver may move it)
  HealthSpec spec;
  // A TLS backend's: an http probe makes the handshake the proxy would
  // (this context, SNI and name to verify) and asks over TLS, so a server
  // whose certificate fails verification is down. A tcp probe only
  // connects. Null: plain TCP.
  std::shared_ptr<const tls::ClientContext> tls;
  std::string sni;          // sent in the handshake; empty: none
  std::string verify_name;  // the name (or IP literal) its certificate must carry
  // The servers speak HTTP/2 (protocol h2 or h2c): an http probe is an h2
  // GET on a connection of its own (over TLS, ALPN must agree on h2).
  bool h2 = false;
};

class HealthChecker {
 public:
  explicit HealthChecker(std::vector<HealthTarget> targets);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  void stop();  // any thread; waits for the checker's thread

 private:
  Task<void> probe_loop(HealthTarget& t);
  Task<bool> probe(HealthTarget& t, std::string& why, bool& ours);
  // The stream an http probe asks on: `fd` itself, or TLS over it once
  // the handshake is done before `deadline_ms`. Null (and `why`) when the
  // handshake failed.
  Task<std::unique_ptr<ByteStream>> open_stream(HealthTarget& t, int fd, std::uint64_t deadline_ms,
                                                std::string& why, bool& ours);
  // The status of an HTTP/2 GET on `stream` (0 and `why` when none came).
  Task<int> ask_h2(HealthTarget& t, ByteStream& stream, const std::string& host,
                   std::uint64_t deadline_ms, std::string& why);
  void probe_ended();

  std::vector<HealthTarget> targets_;
  EventLoop loop_;
  CancelToken cancel_;
  std::thread thread_;
  std::size_t running_ = 0;
};

}  // namespace sluice::balance
