// The token buckets of a rate_limit definition kept in Redis, so that a
// fleet of sluice instances shares one budget. The bucket arithmetic is
// token_bucket.h's, run atomically inside Redis by a Lua script (EVALSHA)
// on Redis's own clock (TIME): instances' clocks never meet.
//
// One connection per worker, opened on first use and kept; the requests of
// one worker take turns on it (a FIFO), each a single round trip. Between
// uses the descriptor is not registered with the loop, so the object can
// be destroyed on any thread (a reload drops it there).
//
// Redis away (refused, reset, no answer within `timeout`) fails open: take()
// returns nothing and the caller decides with its own buckets. One warning
// per outage, one line when Redis is back, and a counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/rate_limit_config.h"
#include "core/address.h"
#include "core/task.h"
#include "middleware/middleware.h"
#include "middleware/token_bucket.h"

namespace sluice::middleware {

class RedisLimiter {
 public:
  // `name`: the definition's, part of every key (instances share a budget
  // by naming their definitions alike). Null and `error` for an address
  // that cannot be used.
  static std::unique_ptr<RedisLimiter> make(const config::RateLimitRedis& settings,
                                            const std::string& name, const BucketRule& rule,
                                            unsigned workers, std::string& error);
  ~RedisLimiter();

  // Takes a token from `key`'s shared bucket. Nothing when Redis could not
  // decide in time (the request fails open). Runs on ctx.loop's thread.
  Task<std::optional<BucketDecision>> take(const Context& ctx, std::string_view key);

  // Requests decided without Redis since start.
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  struct Link;  // one worker's connection

 private:
  RedisLimiter(const config::RateLimitRedis& settings, const std::string& name,
               const SocketAddress& address, const BucketRule& rule, unsigned workers);
  Task<std::optional<BucketDecision>> ask(const Context& ctx, Link& link, std::string_view key,
                                          std::uint64_t deadline_ms, std::string& why, bool& stale);
  void note_failure(const std::string& why);
  void note_success();

  config::RateLimitRedis settings_;
  std::string key_prefix_;  // settings_.prefix + name + ":"
  SocketAddress address_;
  std::string interval_us_;  // the script's arguments, as text
  std::string capacity_us_;
  std::vector<std::unique_ptr<Link>> links_;
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<bool> away_{false};
};

}  // namespace sluice::middleware
