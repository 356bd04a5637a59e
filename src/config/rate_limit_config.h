// The 'rate_limit' middleware's settings (docs/middlewares/rate_limit.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

// What a request's bucket is chosen by.
enum class RateLimitKey : std::uint8_t {
  client_ip,  // the client address (the PROXY header's, when there is one)
  header,     // a request field's value (RateLimit::key_header); absent: ""
  host,       // the request's host, lower case, without port
};

// A budget shared by a fleet of sluice instances through one Redis server.
struct RateLimitRedis {
  std::string address;                    // host:port, resolved when the configuration loads
  std::chrono::milliseconds timeout{50};  // connect and answer; over it the request passes
  std::string prefix = "sluice:";         // before every key sluice writes
};

struct RateLimit {
  std::uint64_t average = 0;                // tokens per period (required)
  std::chrono::milliseconds period{1'000};  // over which `average` tokens refill
  std::uint64_t burst = 0;  // bucket size; 0 in the file is refused: default average
  RateLimitKey key = RateLimitKey::client_ip;
  std::string key_header;            // key: header:NAME
  bool per_route = false;            // true: each route naming it gets its own buckets
  std::uint64_t max_keys = 100'000;  // buckets kept in memory, at most
  std::optional<RateLimitRedis> redis;
};

}  // namespace sluice::config
