// RFC 9113 §8.7 in the retry rules: a request an HTTP/2 server says it did
// not process (REFUSED_STREAM, or above a GOAWAY's last-stream-id) goes
// again whatever its method, free of the retry budget, and is never held
// against the server.
#include <gtest/gtest.h>

#include "proxy/retry_policy.h"

namespace sluice::proxy {
namespace {

TryFacts not_processed_post(int retries_left) {
  TryFacts f;
  f.error = ExchangeError{ErrorKind::refused, Side::server, Phase::connect, true, "refused"};
  f.retries_left = retries_left;
  f.reused_connection = true;
  f.resendable_request = false;  // a POST
  f.not_processed = true;
  return f;
}

TEST(RetryNotProcessed, APostTheServerDidNotProcessGoesAgainFreeOfTheBudget) {
  EXPECT_EQ(decide_retry(not_processed_post(1)), RetryVerdict::retry_free);
}

TEST(RetryNotProcessed, ItIsNeverHeldAgainstTheServer) {
  EXPECT_FALSE(counts_against_server(not_processed_post(1)));
}

TEST(RetryNotProcessed, WithNoRetriesLeftItGivesUp) {
  EXPECT_EQ(decide_retry(not_processed_post(0)), RetryVerdict::give_up);
}

}  // namespace
}  // namespace sluice::proxy
