// pool.reuse decides which connections a try may take (choose_reuse): a
// table of request facts against what the connector may do.
#include <gtest/gtest.h>

#include <cstdint>

#include "proxy/upstream_connector.h"

namespace sluice::proxy {
namespace {

struct Row {
  const char* what;
  ReuseMode mode;
  bool resendable;
  bool after_failed_try;
  bool sends_proxy_header;
  bool pooled;
  std::uint64_t max_idle_ms;
  bool may_borrow;
};

constexpr std::uint64_t kAny = UINT64_MAX;

TEST(ReuseChoice, EachModeAndRequestTakesTheConnectionsItMay) {
  const Row rows[] = {
      {"always: a GET takes any idle connection, borrowed too", ReuseMode::always, true, false,
       false, true, kAny, true},
      {"always: a POST too", ReuseMode::always, false, false, false, true, kAny, true},
      {"safe: a resendable request takes any idle connection", ReuseMode::safe, true, false, false,
       true, kAny, true},
      {"safe: a POST only one proven alive a moment ago, never borrowed", ReuseMode::safe, false,
       false, false, true, kProvenAliveMs, false},
      {"never: a new connection for every request", ReuseMode::never, true, false, false, false,
       kAny, false},
      {"after a pooled try failed: a new connection", ReuseMode::always, true, true, false, false,
       kAny, false},
      {"safe, after a failed try: a new connection", ReuseMode::safe, false, true, false, false,
       kAny, false},
      {"a server that asks for a PROXY header: never shared", ReuseMode::always, true, false, true,
       false, kAny, false},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    const ReuseChoice c =
        choose_reuse(r.mode, r.resendable, r.after_failed_try, r.sends_proxy_header);
    EXPECT_EQ(c.pooled, r.pooled);
    if (c.pooled) {
      EXPECT_EQ(c.max_idle_ms, r.max_idle_ms);
    }
    EXPECT_EQ(c.may_borrow, r.may_borrow);
  }
}

}  // namespace
}  // namespace sluice::proxy
