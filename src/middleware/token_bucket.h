// A token bucket as one number: the "theoretical arrival time" of the
// generic cell rate algorithm (GCRA, ITU-T I.371). A bucket of `burst`
// tokens refilling one token every `interval` is empty until `tat` and full
// from `tat - capacity` on: a request takes a token by moving `tat` one
// interval on, and is refused when that would put it more than `capacity`
// ahead of now. Refill is lazy (nothing runs between requests), the state
// fits in a word, and the same arithmetic runs in the Redis script
// (redis_limiter.cpp), so the local and the shared budget behave alike.
#pragma once

#include <cstdint>

namespace sluice::middleware {

struct BucketRule {
  std::uint64_t interval_ns = 1;  // period / average: one token's refill time
  std::uint64_t capacity_ns = 1;  // burst × interval: a full bucket's lead
  std::uint64_t burst = 1;

  // `average` tokens per `period_ms`, at most `burst` at once.
  static BucketRule make(std::uint64_t average, std::uint64_t period_ms, std::uint64_t burst);
};

struct BucketDecision {
  bool allowed = false;
  std::uint64_t remaining = 0;       // tokens left after this request
  std::uint64_t retry_after_ns = 0;  // refused: until one token is back
};

// Takes one token from the bucket whose state is `tat` at `now_ns`. A new
// bucket starts with tat = 0 (full).
BucketDecision take_token(const BucketRule& rule, std::uint64_t& tat, std::uint64_t now_ns);

// The bucket has refilled completely: forgetting it changes nothing.
inline bool bucket_full(std::uint64_t tat, std::uint64_t now_ns) {
  return tat <= now_ns;
}

}  // namespace sluice::middleware
