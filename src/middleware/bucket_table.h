// The token buckets of one rate_limit definition, shared by every worker:
// a hash table split into shards, each behind its own mutex, so workers
// taking tokens for different clients rarely wait for each other. Memory is
// bounded: a shard holds at most its share of `max_keys`, forgets buckets
// that have refilled completely (they carry no information) as new keys
// arrive, and when still full evicts its least recently used bucket.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "middleware/token_bucket.h"

namespace sluice::middleware {

class BucketTable {
 public:
  BucketTable(BucketRule rule, std::uint64_t max_keys);

  // Takes one token from `key`'s bucket at `now_ns` (a monotonic clock
  // shared by the callers). Thread-safe; never blocks on I/O.
  BucketDecision take(std::string_view key, std::uint64_t now_ns);

  const BucketRule& rule() const { return rule_; }
  std::size_t size() const;
  // Buckets dropped while still holding a debt because the table was full.
  std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Bucket {
    std::string key;
    std::uint64_t tat = 0;
  };
  struct Shard {
    std::mutex mutex;
    std::list<Bucket> recent;  // most recently used first
    std::unordered_map<std::string_view, std::list<Bucket>::iterator> index;  // keys view `recent`
  };

  Shard& shard_of(std::size_t hash);
  std::list<Bucket>::iterator insert(Shard& s, std::string_view key, std::uint64_t now_ns);

  BucketRule rule_;
  std::size_t per_shard_ = 1;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace sluice::middleware
