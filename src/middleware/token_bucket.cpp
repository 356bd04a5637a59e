#include "middleware/token_bucket.h"

#include <algorithm>
#include <limits>

namespace sluice::middleware {

BucketRule BucketRule::make(std::uint64_t average, std::uint64_t period_ms, std::uint64_t burst) {
  BucketRule r;
  r.burst = std::max<std::uint64_t>(burst, 1);
  r.interval_ns =
      std::max<std::uint64_t>(period_ms * 1'000'000 / std::max<std::uint64_t>(average, 1), 1);
  // Saturates: a lead past 2^62 ns (146 years) is as good as endless.
  constexpr std::uint64_t kMax = std::uint64_t{1} << 62;
  r.capacity_ns = r.burst > kMax / r.interval_ns ? kMax : r.burst * r.interval_ns;
  return r;
}

BucketDecision take_token(const BucketRule& rule, std::uint64_t& tat, std::uint64_t now_ns) {
  const std::uint64_t next = std::max(tat, now_ns) + rule.interval_ns;
  BucketDecision d;
  if (next - now_ns > rule.capacity_ns) {
    d.retry_after_ns = next - rule.capacity_ns - now_ns;
    return d;
  }
  tat = next;
  d.allowed = true;
  d.remaining = (rule.capacity_ns - (next - now_ns)) / rule.interval_ns;
  return d;
}

}  // namespace sluice::middleware
