#include "balance/consistent_hash.h"

#include <algorithm>

namespace sluice::balance {

std::uint64_t hash_key(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // FNV's low bits mix poorly for short keys: finish with a 64-bit mixer.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  // 0 is Balancer::kNoKey, "this request has no key".
  return h == 0 ? 1 : h;
}

ConsistentHash::ConsistentHash(const std::vector<std::pair<std::string, int>>& servers)
    : servers_(servers.size()) {
  for (std::size_t s = 0; s < servers.size(); ++s) {
    // Weight 0 (set at run time): no points, so no key goes there.
    const int points = kPointsPerWeight * std::max(0, servers[s].second);
    for (int i = 0; i < points; ++i) {
      ring_.emplace_back(hash_key(servers[s].first + "#" + std::to_string(i)), static_cast<int>(s));
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

int ConsistentHash::pick(std::uint64_t key, const std::function<bool(int)>& usable) const {
  if (ring_.empty()) return -1;
  auto it = std::lower_bound(ring_.begin(), ring_.end(), std::make_pair(key, -1));
  if (it == ring_.end()) it = ring_.begin();
  if (usable(it->second)) return it->second;  // the common case: no allocation
  std::vector<bool> tried(servers_, false);
  std::size_t distinct = 0;
  for (std::size_t n = 0; n < ring_.size() && distinct < servers_; ++n, ++it) {
    if (it == ring_.end()) it = ring_.begin();
    const int s = it->second;
    if (tried[static_cast<std::size_t>(s)]) continue;
    tried[static_cast<std::size_t>(s)] = true;
    ++distinct;
    if (usable(s)) return s;
  }
  return -1;
}

}  // namespace sluice::balance
