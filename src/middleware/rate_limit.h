// The 'rate_limit' middleware's object, visible for the metrics to come
// (its counters) and for tests. Built by make_rate_limit (kinds.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "config/rate_limit_config.h"
#include "middleware/bucket_table.h"
#include "middleware/middleware.h"

namespace sluice::config {
struct Middleware;
}

namespace sluice::middleware {

class RedisLimiter;

class RateLimiter final : public Middleware {
 public:
  RateLimiter(const config::Middleware& def, const BucketRule& rule,
              std::unique_ptr<RedisLimiter> redis);
  ~RateLimiter() override;

  // Requests answered 429.
  std::uint64_t limited() const { return limited_.load(std::memory_order_relaxed); }
  // Requests decided without Redis because it was away (they failed open
  // to this instance's buckets). 0 without `redis`.
  std::uint64_t redis_failures() const;
  const BucketTable& buckets() const { return buckets_; }

  // Middleware
  Task<Verdict> on_request(const Context& ctx, const Request& r, RequestEdits& edits,
                           Answer& answer, std::unique_ptr<ResponseFilter>& filter) override;

 private:
  std::string key_of(const Request& r) const;

  std::string name_;
  config::RateLimit settings_;
  std::string policy_;  // "10 per 1h, burst 10", for the log
  BucketTable buckets_;
  std::unique_ptr<RedisLimiter> redis_;
  std::atomic<std::uint64_t> limited_{0};
};

}  // namespace sluice::middleware
