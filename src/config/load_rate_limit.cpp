// The 'rate_limit' middleware (docs/middlewares/rate_limit.md): a token
// bucket per key, shared by every route and worker that names it, and
// optionally by a fleet through Redis.
#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

// A period over a day, or more tokens than a nanosecond clock can tell
// apart, is a mistake rather than a policy; the limits also keep
// burst × (period / average) inside 64 bits of nanoseconds.
constexpr long long kMaxAverage = 1'000'000'000;
constexpr long long kMaxBurst = 1'000'000'000;
constexpr std::chrono::milliseconds kMaxPeriod{24 * 3600 * 1000};

void load_key(Walker& w, const yaml::Node& n, const Block& b, RateLimit& out) {
  const yaml::Node k = field(n, "key");
  if (!k.IsDefined()) return;
  std::string text;
  if (!w.scalar(k, b.at("key"), text)) return;
  if (text == "client_ip") {
    out.key = RateLimitKey::client_ip;
  } else if (text == "host") {
    out.key = RateLimitKey::host;
  } else if (text.starts_with("header:")) {
    out.key = RateLimitKey::header;
    out.key_header = text.substr(7);
    if (!is_token(out.key_header)) {
      w.error(k, b.at("key") + ": " + quote(out.key_header) + " is not a valid header field name");
    }
  } else {
    const std::string hint = suggest(text, {"client_ip", "host", "header:NAME"});
    w.error(k, b.at("key") + ": expected client_ip, host or header:NAME, got " + quote(text) +
                   (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
}

void load_redis(Walker& w, const yaml::Node& n, const Block& b, RateLimitRedis& out) {
  if (!w.map_with_keys(n, b, {"address", "timeout", "prefix"})) return;
  if (w.string_field(n, "address", b, out.address, true)) {
    w.address_check(field(n, "address"), b.at("address"), out.address, AddressUse::server);
  }
  w.duration_field(n, "timeout", b, out.timeout);
  w.string_field(n, "prefix", b, out.prefix);
}

}  // namespace

void load_rate_limit(Walker& w, const yaml::Node& n, const Block& b, RateLimit& out) {
  if (!w.map_with_keys(n, b,
                       {"average", "period", "burst", "key", "per_route", "max_keys", "redis"})) {
    return;
  }
  if (!field(n, "average").IsDefined()) w.missing(n, b, "average", "tokens per period, e.g. 100");
  w.int_field(n, "average", b, 1, kMaxAverage, out.average);
  w.duration_field(n, "period", b, out.period);
  if (field(n, "period").IsDefined() && out.period > kMaxPeriod) {
    w.error(field(n, "period"), b.at("period") + ": must be at most 24h");
  }
  out.burst = out.average;
  w.int_field(n, "burst", b, 1, kMaxBurst, out.burst);
  load_key(w, n, b, out);
  w.bool_field(n, "per_route", b, out.per_route);
  w.int_field(n, "max_keys", b, 1, 100'000'000, out.max_keys);
  if (const yaml::Node r = field(n, "redis"); r.IsDefined()) {
    out.redis.emplace();
    load_redis(w, r, b.child("redis"), *out.redis);
  }
}

}  // namespace sluice::config
