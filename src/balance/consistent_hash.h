// A consistent-hash ring: each server owns points on a 64-bit circle in
// proportion to its weight, and a key goes to the owner of the first point
// at or after its hash. Adding or removing one of N servers moves about 1/N
// of the keys; a key whose server is down goes to the next point's owner.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::balance {

std::uint64_t hash_key(std::string_view text);  // 64-bit FNV-1a, then mixed; never 0

class ConsistentHash {
 public:
  static constexpr int kPointsPerWeight = 160;

  // `servers`: (identity, weight). The identity (the server's address)
  // places its points, so a server keeps its points whatever else changes.
  explicit ConsistentHash(const std::vector<std::pair<std::string, int>>& servers);

  // The server for `key`, skipping servers `usable` rejects; -1 if none.
  int pick(std::uint64_t key, const std::function<bool(int)>& usable) const;

 private:
  std::vector<std::pair<std::uint64_t, int>> ring_;  // (point, server), sorted
  std::size_t servers_ = 0;
};

}  // namespace sluice::balance
