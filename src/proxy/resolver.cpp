#include "proxy/resolver.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>

#include "proxy/destination_table.h"

namespace sluice::proxy {

std::vector<Resolver::Target> Resolver::targets_of(
    const std::vector<std::shared_ptr<const Backend>>& ups) {
  std::vector<Target> targets;
  for (const auto& up : ups) {
    if (up->resolve_interval_ms == 0) continue;
    for (std::size_t i = 0; i < up->servers.size(); ++i) {
      const std::string& address = up->servers[i].address;
      if (SocketAddress::parse_numeric(address)) continue;  // nothing to look up
      targets.push_back({up->name, up->balancer, static_cast<int>(i), address,
                         up->resolve_interval_ms, up->servers[i].transport});
    }
  }
  return targets;
}

Resolver::Resolver(std::vector<Target> targets, DestinationTable& destinations,
                   std::function<void(DestinationId)> retire)
    : targets_(std::move(targets)), destinations_(destinations), retire_(std::move(retire)) {}

Resolver::~Resolver() {
  stop();
}

void Resolver::start() {
  if (targets_.empty()) return;
  thread_ = std::thread([this] { run(); });
}

void Resolver::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Resolver::run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::time_point> due;
  for (const auto& t : targets_)
    due.push_back(Clock::now() + std::chrono::milliseconds(t.interval_ms));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto next = *std::min_element(due.begin(), due.end());
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) break;
    lock.unlock();  // lookups block: stop() must not wait on them for the lock
    const auto now = Clock::now();
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (due[i] > now) continue;
      refresh(targets_[i]);
      due[i] = Clock::now() + std::chrono::milliseconds(targets_[i].interval_ms);
    }
    lock.lock();
  }
}

// One lookup of one server. The address in use stays while the name still
// has it (a name with several addresses, returned in rotating order, does
// not move its connections around); a lookup that got no answer at all
// keeps the last address: a resolver outage is not the server's.
void Resolver::refresh(const Target& t) {
  balance::ServerState& state = t.balancer->state(t.server);
  const auto found = SocketAddress::look_up(t.address);
  const balance::Endpoint* current = state.endpoint.load(std::memory_order_acquire);
  const bool was_resolved = state.resolved.load(std::memory_order_acquire);
  using Outcome = SocketAddress::Lookup::Outcome;
  if (found.outcome == Outcome::failed) {
    spdlog::warn("backend '{}' server {}: lookup failed ({}); keeping its last address", t.backend,
                 t.address, found.error);
    return;
  }
  if (found.outcome == Outcome::no_such_name) {
    if (!was_resolved) return;
    state.resolved.store(false, std::memory_order_release);
    spdlog::error(
        "backend '{}' server {}: no longer resolves ({}); it is down and gets no requests",
        t.backend, t.address, found.error);
    return;
  }
  const bool kept = current != nullptr && std::find(found.addresses.begin(), found.addresses.end(),
                                                    current->addr) != found.addresses.end();
  if (!kept) {
    const balance::Endpoint* next = destinations_.endpoint_of(found.addresses.front(), t.transport);
    state.endpoint.store(next, std::memory_order_release);
    if (current != nullptr) {
      spdlog::warn("backend '{}' server {}: now resolves to {} (was {})", t.backend, t.address,
                   next->addr.to_string(), current->addr.to_string());
      // New connections go to the new address; idle ones to the old one
      // are closed rather than left for a request that expects this server.
      if (retire_) retire_(current->pool_key);
    }
  }
  if (!was_resolved) {
    state.resolved.store(true, std::memory_order_release);
    spdlog::warn("backend '{}' server {}: resolves again, to {}", t.backend, t.address,
                 state.endpoint.load(std::memory_order_relaxed)->addr.to_string());
  }
}

}  // namespace sluice::proxy
