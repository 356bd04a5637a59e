// The 'rate_limit' middleware (docs/middlewares/rate_limit.md): one set of
// token buckets per definition, shared by every route that names it and by
// every worker, so that a policy attached to many routes is one budget and
// not one per route (Traefik's limit per router) nor one per worker. With
// `redis`, the fleet of instances shares it too.

#include <algorithm>
#include <chrono>
#include <optional>

#include "config/model.h"
#include "core/address.h"
#include "middleware/bucket_table.h"
#include "middleware/kinds.h"
#include "middleware/rate_limit.h"
#include "middleware/redis_limiter.h"

namespace sluice::middleware {
namespace {

std::uint64_t steady_now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// Delay-seconds are whole (RFC 9110 §10.2.3): rounded up, so that a client
// retrying on time finds its token back.
std::uint64_t retry_after_seconds(std::uint64_t ns) {
  return std::max<std::uint64_t>(1, (ns + 999'999'999) / 1'000'000'000);
}

std::string describe_period(std::chrono::milliseconds p) {
  const auto ms = static_cast<std::uint64_t>(p.count());
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

RateLimiter::RateLimiter(const config::Middleware& def, const BucketRule& rule,
                         std::unique_ptr<RedisLimiter> redis)
    : name_(def.name),
      settings_(def.rate_limit),
      buckets_(rule, def.rate_limit.max_keys),
      redis_(std::move(redis)) {
  policy_ = std::to_string(settings_.average) + " per " + describe_period(settings_.period) +
            ", burst " + std::to_string(settings_.burst);
}

RateLimiter::~RateLimiter() = default;

std::string RateLimiter::key_of(const Request& r) const {
  std::string key;
  if (settings_.per_route) {
    // A route name holds no NUL: the two parts cannot run into each other.
    key.append(r.route).push_back('\0');
  }
  switch (settings_.key) {
    case config::RateLimitKey::client_ip:
      key += r.client->host_string();
      break;
    case config::RateLimitKey::host:
      key += r.host;
      break;
    case config::RateLimitKey::header:
      // Requests without the field share the "" bucket: leaving it out must
      // not be a way around the limit.
      for (const auto& f : r.fields) {
        if (same_name(f.name, settings_.key_header)) {
          key += f.value;
          break;
        }
      }
      break;
  }
  return key;
}

std::uint64_t RateLimiter::redis_failures() const {
  return redis_ ? redis_->failures() : 0;
}

Task<Verdict> RateLimiter::on_request(const Context& ctx, const Request& r, RequestEdits& edits,
                                      Answer& answer, std::unique_ptr<ResponseFilter>& filter) {
  (void)edits;
  (void)filter;
  const std::string key = key_of(r);
  std::optional<BucketDecision> shared;
  if (redis_) shared = co_await redis_->take(ctx, key);
  // Without Redis, or while it is away: this instance's buckets.
  const BucketDecision d = shared ? *shared : buckets_.take(key, steady_now_ns());
  if (d.allowed) co_return Verdict::next;
  limited_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t seconds = retry_after_seconds(d.retry_after_ns);
  // RFC 6585 §4: 429 may say when to come back; RFC 9110 §10.2.3 Retry-After.
  answer.status = 429;
  answer.fields.push_back({"Retry-After", std::to_string(seconds)});
  answer.fields.push_back({"Content-Type", "text/plain"});
  answer.body = "too many requests: retry after " + std::to_string(seconds) + " s\n";
  answer.reason =
      "over the rate limit (" + policy_ + "), retry after " + std::to_string(seconds) + " s";
  co_return Verdict::answer;
}

std::shared_ptr<Middleware> make_rate_limit(const config::Middleware& def, const BuildContext& ctx,
                                            std::string& error) {
  const config::RateLimit& s = def.rate_limit;
  const BucketRule rule =
      BucketRule::make(s.average, static_cast<std::uint64_t>(s.period.count()), s.burst);
  std::unique_ptr<RedisLimiter> redis;
  if (s.redis) {
    redis = RedisLimiter::make(*s.redis, def.name, rule, ctx.workers, error);
    if (!redis) return nullptr;
  }
  return std::make_shared<RateLimiter>(def, rule, std::move(redis));
}

}  // namespace sluice::middleware
