// The pace of a request body as it arrives from the client. Two limits, each
// answered with 408: a deadline for the whole request (timeouts.request)
// and a minimum rate (min_body_rate) counted only over the time spent
// waiting on the client, so a backend that reads slowly never makes a client
// look slow. With the defaults a healthy upload is never cut: the rate asks
// for 8 KiB per 30 s of waiting, a 2G link's trickle.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "proxy/snapshot.h"

namespace sluice::proxy {

class BodyPace {
 public:
  BodyPace(const ListenerSettings& ls, std::uint64_t request_started_ms)
      : ls_(ls),
        deadline_ms_(ls.request_timeout_ms > 0 ? request_started_ms + ls.request_timeout_ms : 0) {}

  // How long the next read may wait: never past the request's deadline or
  // the end of the current rate window. At least 1 ms.
  std::uint64_t read_timeout(std::uint64_t now_ms) const {
    std::uint64_t t = ls_.body_timeout_ms;
    if (deadline_ms_ != 0) t = std::min(t, deadline_ms_ > now_ms ? deadline_ms_ - now_ms : 1);
    if (ls_.min_body_bytes > 0) {
      t = std::min(t, ls_.min_body_per_ms > waited_ms_ ? ls_.min_body_per_ms - waited_ms_ : 1);
    }
    return std::max<std::uint64_t>(t, 1);
  }

  // After a read that waited from `started_ms` to `now_ms` and brought `n`
  // bytes (0 when it timed out). Returns why the request must be refused
  // with 408, or nullptr to go on reading.
  const char* after_read(std::uint64_t started_ms, std::uint64_t now_ms, std::size_t n) {
    const std::uint64_t waited = now_ms > started_ms ? now_ms - started_ms : 0;
    if (deadline_ms_ != 0 && now_ms >= deadline_ms_) {
      return "the request was not received within timeouts.request";
    }
    waited_ms_ += waited;
    window_bytes_ += n;
    if (ls_.min_body_bytes > 0 && waited_ms_ >= ls_.min_body_per_ms) {
      if (window_bytes_ < ls_.min_body_bytes)
        return "the request body came slower than min_body_rate";
      waited_ms_ = 0;
      window_bytes_ = 0;
    }
    if (n == 0 && waited >= ls_.body_timeout_ms) {
      return "no byte of the request body came within timeouts.idle";
    }
    return nullptr;
  }

 private:
  const ListenerSettings& ls_;
  std::uint64_t deadline_ms_;       // 0: none
  std::uint64_t waited_ms_ = 0;     // spent waiting on the client in this window
  std::uint64_t window_bytes_ = 0;  // body bytes received in this window
};

}  // namespace sluice::proxy
