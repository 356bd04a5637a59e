#include "middleware/bucket_table.h"

#include <algorithm>
#include <bit>
#include <functional>

namespace sluice::middleware {
namespace {

// Full buckets forgotten per insert, at most: keeps the time a shard's lock
// is held short and constant.
constexpr int kSweepPerInsert = 4;

}  // namespace

BucketTable::BucketTable(BucketRule rule, std::uint64_t max_keys) : rule_(rule) {
  max_keys = std::max<std::uint64_t>(max_keys, 1);
  // 64 shards, fewer for a small table so that max_keys stays a close bound.
  const std::size_t shards = std::clamp<std::size_t>(std::bit_floor(max_keys / 16), 1, 64);
  per_shard_ = static_cast<std::size_t>((max_keys + shards - 1) / shards);
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i)
    shards_.push_back(std::make_unique<Shard>());
}

BucketTable::Shard& BucketTable::shard_of(std::size_t hash) {
  // The map inside uses the hash's low bits; the shard takes mixed high ones.
  const std::uint64_t mixed = static_cast<std::uint64_t>(hash) * 0x9E3779B97F4A7C15ull;
  return *shards_[static_cast<std::size_t>(mixed >> 32) % shards_.size()];
}

std::list<BucketTable::Bucket>::iterator BucketTable::insert(Shard& s, std::string_view key,
                                                             std::uint64_t now_ns) {
  for (int i = 0;
       i < kSweepPerInsert && !s.recent.empty() && bucket_full(s.recent.back().tat, now_ns); ++i) {
    s.index.erase(s.recent.back().key);
    s.recent.pop_back();
  }
  if (s.recent.size() >= per_shard_) {
    // The least recently used client starts over with a full bucket: the
    // price of bounded memory, counted so that an operator sees it.
    s.index.erase(s.recent.back().key);
    s.recent.pop_back();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  s.recent.push_front(Bucket{std::string(key), 0});
  s.index.emplace(s.recent.front().key, s.recent.begin());
  return s.recent.begin();
}

BucketDecision BucketTable::take(std::string_view key, std::uint64_t now_ns) {
  Shard& s = shard_of(std::hash<std::string_view>{}(key));
  const std::lock_guard lock(s.mutex);
  auto found = s.index.find(key);
  std::list<Bucket>::iterator it;
  if (found == s.index.end()) {
    it = insert(s, key, now_ns);
  } else {
    it = found->second;
    s.recent.splice(s.recent.begin(), s.recent, it);
  }
  return take_token(rule_, it->tat, now_ns);
}

std::size_t BucketTable::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    const std::lock_guard lock(s->mutex);
    n += s->recent.size();
  }
  return n;
}

}  // namespace sluice::middleware
