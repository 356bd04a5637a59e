#include "balance/balancer.h"

#include <spdlog/spdlog.h>
#include <algorithm>

namespace sluice::balance {
namespace {

std::uint64_t next_random(std::uint64_t& state) {
  // xorshift64*: fast, per worker, good enough to spread load.
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

}  // namespace

Balancer::Balancer(Algorithm algorithm, std::vector<ServerSpec> servers, std::size_t max_queue)
    : algorithm_(algorithm),
      specs_(std::move(servers)),
      states_(new ServerState[std::max<std::size_t>(1, specs_.size())]) {
  for (const auto& s : specs_) {
    limits_.push_back(s.max_connections > 0 ? std::make_shared<ConnectionLimit>(
                                                  s.max_connections, max_queue, s.address)
                                            : nullptr);
  }
  for (std::size_t i = 0; i < specs_.size(); ++i)
    states_[i].weight.store(specs_[i].weight, std::memory_order_relaxed);
  rebuild_ring();
}

void Balancer::rebuild_ring() const {
  if (algorithm_ != Algorithm::hash) return;
  // One build at a time, so the ring published last has every weight set
  // before it; workers wait for the swap only, never for a build.
  std::lock_guard build(ring_build_mutex_);
  std::vector<std::pair<std::string, int>> points;
  for (std::size_t i = 0; i < specs_.size(); ++i)
    points.emplace_back(specs_[i].address, weight_of(static_cast<int>(i)));
  auto ring = std::make_shared<const ConsistentHash>(points);
  std::lock_guard lock(ring_mutex_);
  ring_ = std::move(ring);
  ring_version_.fetch_add(1, std::memory_order_release);
}

const ConsistentHash& Balancer::ring(WorkerState& ws) const {
  if (ws.ring_version != ring_version_.load(std::memory_order_acquire)) {
    std::lock_guard lock(ring_mutex_);
    ws.ring = ring_;
    ws.ring_version = ring_version_.load(std::memory_order_relaxed);
  }
  return *ws.ring;
}

void Balancer::set_weight(int server, int weight) const {
  state(server).weight.store(std::clamp(weight, 0, kMaxWeight), std::memory_order_relaxed);
  rebuild_ring();
}

Balancer::WorkerState Balancer::make_worker_state(unsigned worker) const {
  WorkerState ws;
  ws.current.assign(specs_.size(), 0);
  ws.rng ^= (static_cast<std::uint64_t>(worker) + 1) * 0xbf58476d1ce4e5b9ull;
  return ws;
}

std::int64_t Balancer::weight(int s, std::uint64_t now_ms) const {
  const std::int64_t full = static_cast<std::int64_t>(weight_of(s)) * 1000;
  if (now_ms == kIgnoreEjections) return full;
  const std::uint64_t ramp = spec(s).slow_start_ms;
  const std::uint64_t since = state(s).up_since_ms.load(std::memory_order_relaxed);
  if (ramp == 0 || since == 0 || now_ms >= since + ramp) return full;
  const auto elapsed = static_cast<std::int64_t>(now_ms > since ? now_ms - since : 0);
  return std::max<std::int64_t>(1, full * elapsed / static_cast<std::int64_t>(ramp));
}

bool Balancer::candidate(int s, bool backups, std::uint64_t now_ms, int avoid) const {
  // kIgnoreEjections, as a time, is after every ejection's end. Weight 0
  // (set at run time) takes no new requests, even when nothing else can.
  return s != avoid && spec(s).backup == backups && state(s).takes_new(now_ms) && weight_of(s) > 0;
}

int Balancer::pick(WorkerState& ws, std::uint64_t now_ms, std::uint64_t key, int avoid) const {
  if (specs_.size() == 1) return pick_only_server(now_ms);
  for (const int skip : {avoid, -1}) {
    for (const bool backups : {false, true}) {
      const int s = pick_among(ws, backups, now_ms, key, skip);
      if (s >= 0) return s;
    }
    if (avoid < 0) break;
  }
  // Passive ejection never empties a backend: when every healthy server is
  // ejected, they all take requests again (as Envoy's panic mode does);
  // only failed health checks and operators take a backend out entirely.
  for (const bool backups : {false, true}) {
    const int s = pick_among(ws, backups, kIgnoreEjections, key, -1);
    if (s >= 0) return s;
  }
  return -1;
}

// A backend of one server (the most common kind) has one answer whatever
// the algorithm: the server, if it takes requests (ejected or not, as the
// general path below decides; `avoid` cannot apply when there is no other),
// else none. No worker state to move: smooth round robin's counter of a
// lone server comes back to 0 at every pick, and the draws of the random
// algorithms choose among one.
int Balancer::pick_only_server(std::uint64_t now_ms) const {
  const bool backup = specs_[0].backup;
  if (candidate(0, backup, now_ms, -1) || candidate(0, backup, kIgnoreEjections, -1)) return 0;
  return -1;
}

int Balancer::pick_among(WorkerState& ws, bool backups, std::uint64_t now_ms, std::uint64_t key,
                         int avoid) const {
  const int n = static_cast<int>(specs_.size());
  switch (algorithm_) {
    case Algorithm::round_robin: {
      // Smooth weighted round robin: every candidate gains its weight, the
      // richest is chosen and pays the total; weights 5,1,1 give
      // a a b a c a a, not a a a a a b c.
      int best = -1;
      std::int64_t total = 0;
      for (int s = 0; s < n; ++s) {
        if (!candidate(s, backups, now_ms, avoid)) continue;
        ws.current[static_cast<std::size_t>(s)] += weight(s, now_ms);
        total += weight(s, now_ms);
        if (best < 0 ||
            ws.current[static_cast<std::size_t>(s)] > ws.current[static_cast<std::size_t>(best)]) {
          best = s;
        }
      }
      if (best >= 0) ws.current[static_cast<std::size_t>(best)] -= total;
      return best;
    }
    case Algorithm::least_conn: {
      // Fewest in flight per unit of weight; ties go round the servers
      // from a random start, so equal servers share the load.
      int best = -1;
      const int start = static_cast<int>(next_random(ws.rng) % static_cast<std::uint64_t>(n));
      for (int i = 0; i < n; ++i) {
        const int s = (start + i) % n;
        if (!candidate(s, backups, now_ms, avoid)) continue;
        if (best < 0) {
          best = s;
          continue;
        }
        const std::int64_t mine = state(s).in_flight.load(std::memory_order_relaxed);
        const std::int64_t theirs = state(best).in_flight.load(std::memory_order_relaxed);
        if (mine * weight(best, now_ms) < theirs * weight(s, now_ms)) best = s;
      }
      return best;
    }
    case Algorithm::random:
    case Algorithm::p2c: {
      std::int64_t total = 0;
      for (int s = 0; s < n; ++s)
        total += candidate(s, backups, now_ms, avoid) ? weight(s, now_ms) : 0;
      if (total == 0) return -1;
      auto draw = [&] {
        std::int64_t r =
            static_cast<std::int64_t>(next_random(ws.rng) % static_cast<std::uint64_t>(total));
        for (int s = 0; s < n; ++s) {
          if (!candidate(s, backups, now_ms, avoid)) continue;
          r -= weight(s, now_ms);
          if (r < 0) return s;
        }
        return -1;
      };
      const int a = draw();
      if (algorithm_ == Algorithm::random) return a;
      // Power of two choices: the better of two random picks, by requests
      // in flight weighted by recent latency. A server with no latency yet
      // (it has answered nothing) counts as fast as the other: taken as 0,
      // a server holding every request it gets would win until it held
      // hundreds.
      const int b = draw();
      const std::uint64_t latency_a = state(a).latency_us.load(std::memory_order_relaxed);
      const std::uint64_t latency_b = state(b).latency_us.load(std::memory_order_relaxed);
      auto score = [&](int s, std::uint64_t latency) {
        return (static_cast<std::uint64_t>(state(s).in_flight.load(std::memory_order_relaxed)) +
                1) *
               (latency + 1);
      };
      return score(b, latency_b != 0 ? latency_b : latency_a) <
                     score(a, latency_a != 0 ? latency_a : latency_b)
                 ? b
                 : a;
    }
    case Algorithm::hash: {
      const std::uint64_t point = key == kNoKey ? next_random(ws.rng) : key;
      return ring(ws).pick(point, [&](int s) { return candidate(s, backups, now_ms, avoid); });
    }
  }
  return -1;
}

void Balancer::inherit(const Balancer& old) const {
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    for (std::size_t j = 0; j < old.specs_.size(); ++j) {
      if (old.specs_[j].address != specs_[i].address) continue;
      const ServerState& from = old.states_[j];
      ServerState& to = states_[i];
      to.healthy.store(from.healthy.load(std::memory_order_relaxed), std::memory_order_relaxed);
      to.ejected_until_ms.store(from.ejected_until_ms.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
      to.ejections.store(from.ejections.load(std::memory_order_relaxed), std::memory_order_relaxed);
      to.ejections_total.store(from.ejections_total.load(std::memory_order_relaxed),
                               std::memory_order_relaxed);
      to.latency_us.store(from.latency_us.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
      to.up_since_ms.store(from.up_since_ms.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
      to.admin.store(from.admin.load(std::memory_order_relaxed), std::memory_order_relaxed);
      inherit_weight(old, j, static_cast<int>(i));
      if (limits_[i] && old.limits_[j]) {
        old.limits_[j]->resize(limits_[i]->max(), limits_[i]->max_queue());
        limits_[i] = old.limits_[j];
      }
      break;
    }
  }
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    if (weight_of(static_cast<int>(i)) != specs_[i].weight) {
      rebuild_ring();  // the ring was built with the file's weights
      break;
    }
  }
}

void Balancer::inherit_weight(const Balancer& old, std::size_t from, int to) const {
  const int set_at_run_time = old.weight_of(static_cast<int>(from));
  const int configured_before = old.specs_[from].weight;
  if (set_at_run_time == configured_before) return;
  if (configured_before == spec(to).weight) {
    state(to).weight.store(set_at_run_time, std::memory_order_relaxed);
    return;
  }
  spdlog::warn(
      "server {}: the configuration's new weight {} replaces the weight {} set at run time",
      spec(to).address, spec(to).weight, set_at_run_time);
}

void Balancer::record_failure(int server, std::uint64_t now_ms) const {
  ServerState& st = state(server);
  if (st.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1 < kFailuresToEject)
    return;
  st.consecutive_failures.store(0, std::memory_order_relaxed);
  const int n = std::min(st.ejections.fetch_add(1, std::memory_order_relaxed), 5);
  st.ejections_total.fetch_add(1, std::memory_order_relaxed);  // rare: once per ejection
  const std::uint64_t backoff_ms = std::min<std::uint64_t>(1'000ull << n, 30'000);
  st.ejected_until_ms.store(now_ms + backoff_ms, std::memory_order_relaxed);
  spdlog::warn("server {}: {} failures in a row; ejected for {} ms", spec(server).address,
               kFailuresToEject, backoff_ms);
}

void Balancer::record_success(int server) const {
  ServerState& st = state(server);
  st.consecutive_failures.store(0, std::memory_order_relaxed);
  st.ejections.store(0, std::memory_order_relaxed);
}

}  // namespace sluice::balance
