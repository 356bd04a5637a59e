// A weight set at run time (the admin API's PUT .../weight, issue 19):
// every algorithm that weighs servers follows it from the next pick, 0
// takes a server out of balancing, and a reload keeps it unless the file
// gives the server a new weight.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "balance/balancer.h"

namespace sluice::balance {
namespace {

std::vector<ServerSpec> servers(std::vector<int> weights) {
  std::vector<ServerSpec> out;
  for (std::size_t i = 0; i < weights.size(); ++i)
    out.push_back({"10.0.0." + std::to_string(i + 1) + ":80", weights[i], false});
  return out;
}

// How many of `n` picks go to each server.
std::vector<int> picks(const Balancer& b, Balancer::WorkerState& ws, int n, bool keyed = false) {
  std::vector<int> count(b.size(), 0);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t key = keyed ? hash_key("user-" + std::to_string(i)) : Balancer::kNoKey;
    const int s = b.pick(ws, 0, key);
    if (s >= 0) ++count[static_cast<std::size_t>(s)];
  }
  return count;
}

TEST(RuntimeWeight, RoundRobinFollowsANewWeightAtOnce) {
  Balancer b(Algorithm::round_robin, servers({1, 1}));
  auto ws = b.make_worker_state(0);
  EXPECT_EQ(picks(b, ws, 10), (std::vector<int>{5, 5}));
  b.set_weight(0, 4);
  EXPECT_EQ(b.weight_of(0), 4);
  EXPECT_EQ(b.spec(0).weight, 1) << "the configured weight is kept apart";
  EXPECT_EQ(picks(b, ws, 50), (std::vector<int>{40, 10}));
}

TEST(RuntimeWeight, WeightZeroTakesAServerOutOfEveryAlgorithm) {
  for (const Algorithm a : {Algorithm::round_robin, Algorithm::least_conn, Algorithm::random,
                            Algorithm::p2c, Algorithm::hash}) {
    Balancer b(a, servers({1, 1, 1}));
    auto ws = b.make_worker_state(0);
    b.set_weight(1, 0);
    const std::vector<int> n = picks(b, ws, 300, a == Algorithm::hash);
    EXPECT_EQ(n[1], 0) << "algorithm " << static_cast<int>(a);
    EXPECT_EQ(n[0] + n[2], 300) << "algorithm " << static_cast<int>(a);
  }
}

TEST(RuntimeWeight, EveryServerAtZeroLeavesNoServer) {
  Balancer b(Algorithm::round_robin, servers({1, 1}));
  auto ws = b.make_worker_state(0);
  b.set_weight(0, 0);
  b.set_weight(1, 0);
  EXPECT_EQ(b.pick(ws, 0, 0), -1);
}

TEST(RuntimeWeight, RandomAndLeastConnFollowANewWeight) {
  Balancer random(Algorithm::random, servers({1, 1}));
  auto ws = random.make_worker_state(0);
  random.set_weight(1, 3);
  EXPECT_NEAR(picks(random, ws, 10000)[1] / 10000.0, 0.75, 0.03);

  Balancer least(Algorithm::least_conn, servers({1, 1}));
  auto lw = least.make_worker_state(0);
  least.state(0).in_flight = 2;
  least.state(1).in_flight = 3;
  EXPECT_EQ(least.pick(lw, 0, 0), 0);
  least.set_weight(1, 2);  // 1.5 per unit of weight now
  EXPECT_EQ(least.pick(lw, 0, 0), 1);
}

TEST(RuntimeWeight, HashMovesKeysOnlyToTheServerWhoseWeightGrew) {
  Balancer b(Algorithm::hash, servers({1, 1, 1}));
  auto ws = b.make_worker_state(0);
  std::vector<int> before;
  for (int k = 0; k < 3000; ++k)
    before.push_back(b.pick(ws, 0, hash_key(std::to_string(k))));
  b.set_weight(2, 3);
  int moved = 0;
  std::vector<int> count(3, 0);
  for (int k = 0; k < 3000; ++k) {
    const int now = b.pick(ws, 0, hash_key(std::to_string(k)));
    ++count[static_cast<std::size_t>(now)];
    if (now != before[static_cast<std::size_t>(k)]) {
      ++moved;
      EXPECT_EQ(now, 2) << "a key moves only to the heavier server";
    }
  }
  EXPECT_NEAR(count[2] / 3000.0, 0.6, 0.08);  // 3 of 5 parts
  EXPECT_GT(moved, 600);
}

TEST(RuntimeWeight, AReloadKeepsTheWeightWhileTheFileKeepsItsOwn) {
  Balancer old(Algorithm::round_robin, servers({1, 1}));
  old.set_weight(0, 7);
  Balancer next(Algorithm::round_robin, servers({1, 1}));
  next.inherit(old);
  EXPECT_EQ(next.weight_of(0), 7);
  EXPECT_EQ(next.weight_of(1), 1);
}

TEST(RuntimeWeight, ANewWeightInTheFileWinsOverTheOneSetAtRunTime) {
  Balancer old(Algorithm::hash, servers({1, 1}));
  old.set_weight(0, 7);
  Balancer next(Algorithm::hash, servers({2, 1}));
  next.inherit(old);
  EXPECT_EQ(next.weight_of(0), 2);
  // And the next reload, with the file unchanged, keeps the file's.
  Balancer again(Algorithm::hash, servers({2, 1}));
  again.inherit(next);
  EXPECT_EQ(again.weight_of(0), 2);
}

TEST(RuntimeWeight, AHashRingInheritedWithARuntimeWeightUsesIt) {
  Balancer old(Algorithm::hash, servers({1, 1}));
  old.set_weight(1, 0);
  Balancer next(Algorithm::hash, servers({1, 1}));
  auto ws = next.make_worker_state(0);  // made before inherit(), as a snapshot build does
  next.inherit(old);
  EXPECT_EQ(picks(next, ws, 200, true)[1], 0);
}

}  // namespace
}  // namespace sluice::balance
