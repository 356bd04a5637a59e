// Server choice: the algorithms operators pick, health and ejection, and the
// consistent hash's promise that removing one of N servers moves ~1/N keys.
#include "balance/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace sluice::balance {
namespace {

std::vector<ServerSpec> servers(std::vector<int> weights) {
  std::vector<ServerSpec> out;
  for (std::size_t i = 0; i < weights.size(); ++i)
    out.push_back({"10.0.0." + std::to_string(i + 1) + ":80", weights[i], false});
  return out;
}

TEST(Balancer, SmoothWeightedRoundRobinInterleaves) {
  Balancer b(Algorithm::round_robin, servers({5, 1, 1}));
  auto ws = b.make_worker_state(0);
  std::string seq;
  for (int i = 0; i < 7; ++i)
    seq += static_cast<char>('a' + b.pick(ws, 0, 0));
  EXPECT_EQ(seq, "aabacaa");  // 5:1:1, never five a in a row
}

TEST(Balancer, LeastConnPrefersFewestInFlightPerWeight) {
  Balancer b(Algorithm::least_conn, servers({1, 1, 2}));
  b.state(0).in_flight = 3;
  b.state(1).in_flight = 1;
  b.state(2).in_flight = 3;  // 1.5 per unit of weight
  auto ws = b.make_worker_state(0);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(b.pick(ws, 0, 0), 1);
  b.state(1).in_flight = 2;  // 2 > 1.5
  EXPECT_EQ(b.pick(ws, 0, 0), 2);
}

TEST(Balancer, RandomFollowsWeights) {
  Balancer b(Algorithm::random, servers({3, 1}));
  auto ws = b.make_worker_state(0);
  int first = 0;
  for (int i = 0; i < 10000; ++i)
    first += b.pick(ws, 0, 0) == 0 ? 1 : 0;
  EXPECT_NEAR(first / 10000.0, 0.75, 0.03);
}

TEST(Balancer, PowerOfTwoChoicesAvoidsTheBusyServer) {
  Balancer b(Algorithm::p2c, servers({1, 1}));
  b.state(0).in_flight = 50;
  auto ws = b.make_worker_state(0);
  int busy = 0;
  for (int i = 0; i < 1000; ++i)
    busy += b.pick(ws, 0, 0) == 0 ? 1 : 0;
  EXPECT_LT(busy, 300);  // only when both draws land on it (~1/4)
}

TEST(Balancer, UnhealthyAndEjectedServersAreSkippedBackupsLast) {
  auto specs = servers({1, 1, 1});
  specs[2].backup = true;
  Balancer b(Algorithm::round_robin, specs);
  auto ws = b.make_worker_state(0);
  b.state(0).healthy = false;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(b.pick(ws, 1000, 0), 1);
  for (int i = 0; i < Balancer::kFailuresToEject; ++i)
    b.record_failure(1, 1000);
  EXPECT_EQ(b.pick(ws, 1000, 0), 2);  // only the backup is left
  EXPECT_EQ(b.pick(ws, 2001, 0), 1);  // the 1 s ejection is over
  b.state(2).healthy = false;
  for (int i = 0; i < Balancer::kFailuresToEject; ++i)
    b.record_failure(1, 3000);
  // Ejection never empties a backend: the ejected server still serves.
  EXPECT_EQ(b.pick(ws, 3000, 0), 1);
  b.state(1).healthy = false;
  EXPECT_EQ(b.pick(ws, 5000, 0), -1);  // nothing healthy: the caller answers 503
}

TEST(Balancer, DrainingAndDisabledServersTakeNoNewRequests) {
  Balancer b(Algorithm::round_robin, servers({1, 1}));
  auto ws = b.make_worker_state(0);
  b.state(0).admin = AdminState::draining;
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(b.pick(ws, 0, 0), 1);
  EXPECT_TRUE(b.state(0).takes_sticky(0));  // its sticky clients stay
  b.state(0).admin = AdminState::disabled;
  EXPECT_FALSE(b.state(0).takes_sticky(0));
  b.state(0).admin = AdminState::enabled;
  int first = 0;
  for (int i = 0; i < 4; ++i)
    first += b.pick(ws, 0, 0) == 0 ? 1 : 0;
  EXPECT_EQ(first, 2);
}

TEST(Balancer, AServerBackUpRampsToItsWeightOverSlowStart) {
  auto specs = servers({1, 1});
  specs[0].slow_start_ms = 10'000;
  Balancer b(Algorithm::round_robin, specs);
  auto ws = b.make_worker_state(0);
  b.state(0).up_since_ms = 100'000;
  auto share = [&](std::uint64_t now) {
    int first = 0;
    for (int i = 0; i < 1100; ++i)
      first += b.pick(ws, now, 0) == 0 ? 1 : 0;
    return first / 1100.0;
  };
  EXPECT_NEAR(share(101'000), 0.1 / 1.1, 0.01);  // 10% of its weight after 1 s
  EXPECT_NEAR(share(105'000), 0.5 / 1.5, 0.01);
  EXPECT_NEAR(share(110'000), 0.5, 0.01);  // full weight
}

TEST(Balancer, RetryAvoidsTheServerThatJustFailedWhenItCan) {
  Balancer b(Algorithm::hash, servers({1, 1}));
  auto ws = b.make_worker_state(0);
  const std::uint64_t key = hash_key("client");
  const int first = b.pick(ws, 0, key);
  EXPECT_NE(b.pick(ws, 0, key, first), first);
  Balancer single(Algorithm::hash, servers({1}));
  // Each balancer picks with its own worker state (a backend keeps them
  // side by side): the hash ring lives there.
  auto single_ws = single.make_worker_state(0);
  EXPECT_EQ(single.pick(single_ws, 0, key, 0), 0);  // no other: the same one again
}

// The most common backend has one server: whatever the algorithm, it is
// the pick while it can take requests (passively ejected too, as with
// several), also on a retry that would avoid it, and none once it is down,
// drained or weighted 0.
TEST(Balancer, ABackendOfOneServerPicksItUnlessItTakesNothing) {
  for (const Algorithm a : {Algorithm::round_robin, Algorithm::least_conn, Algorithm::random,
                            Algorithm::p2c, Algorithm::hash}) {
    for (const bool backup : {false, true}) {
      SCOPED_TRACE(static_cast<int>(a) * 2 + (backup ? 1 : 0));
      auto specs = servers({1});
      specs[0].backup = backup;
      Balancer b(a, specs);
      auto ws = b.make_worker_state(0);
      const std::uint64_t key = hash_key("client");
      for (int i = 0; i < 3; ++i)
        EXPECT_EQ(b.pick(ws, 1000, key), 0);
      EXPECT_EQ(b.pick(ws, 1000, key, 0), 0);  // a retry: there is no other
      for (int i = 0; i < Balancer::kFailuresToEject; ++i)
        b.record_failure(0, 1000);
      EXPECT_FALSE(b.state(0).takes_new(1000));
      EXPECT_EQ(b.pick(ws, 1000, key), 0);  // ejection never empties a backend
      b.state(0).admin = AdminState::draining;
      EXPECT_EQ(b.pick(ws, 1000, key), -1);
      b.state(0).admin = AdminState::enabled;
      b.set_weight(0, 0);
      EXPECT_EQ(b.pick(ws, 1000, key), -1);
      b.set_weight(0, 1);
      EXPECT_EQ(b.pick(ws, 1000, key), 0);
      b.state(0).healthy = false;
      EXPECT_EQ(b.pick(ws, 1000, key), -1);  // the caller answers 503
    }
  }
}

TEST(ConsistentHash, RemovingOneOfFiveServersMovesAboutAFifthOfTheKeys) {
  Balancer five(Algorithm::hash, servers({1, 1, 1, 1, 1}));
  auto four_specs = servers({1, 1, 1, 1, 1});
  four_specs.erase(four_specs.begin() + 2);
  Balancer four(Algorithm::hash, four_specs);
  auto ws = five.make_worker_state(0);
  auto ws4 = four.make_worker_state(0);
  int moved = 0;
  std::map<int, int> per_server;
  for (int k = 0; k < 10000; ++k) {
    const std::uint64_t key = hash_key("user-" + std::to_string(k));
    const int before = five.pick(ws, 0, key);
    const std::string after = four.spec(four.pick(ws4, 0, key)).address;
    moved += five.spec(before).address != after ? 1 : 0;
    ++per_server[before];
  }
  EXPECT_GE(moved, 1500);
  EXPECT_LE(moved, 2500);
  for (const auto& [server, keys] : per_server)
    EXPECT_NEAR(keys, 2000, 400) << "server " << server;  // an even spread
}

TEST(ConsistentHash, ADownServersKeysGoElsewhereAndComeBack) {
  Balancer b(Algorithm::hash, servers({1, 1, 1}));
  auto ws = b.make_worker_state(0);
  std::vector<int> owner;
  for (int k = 0; k < 3000; ++k)
    owner.push_back(b.pick(ws, 0, hash_key(std::to_string(k))));
  b.state(1).healthy = false;
  int changed = 0;
  for (int k = 0; k < 3000; ++k) {
    const int now = b.pick(ws, 0, hash_key(std::to_string(k)));
    const int was = owner[static_cast<std::size_t>(k)];
    EXPECT_NE(now, 1);
    changed += now != was ? 1 : 0;
    if (was != 1) {
      EXPECT_EQ(now, was);  // only the down server's keys move
    }
  }
  EXPECT_GT(changed, 0);
  b.state(1).healthy = true;
  for (int k = 0; k < 3000; ++k)
    EXPECT_EQ(b.pick(ws, 0, hash_key(std::to_string(k))), owner[static_cast<std::size_t>(k)]);
}

}  // namespace
}  // namespace sluice::balance
