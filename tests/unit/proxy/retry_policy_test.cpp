#include "proxy/retry_policy.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::proxy {
namespace {

using K = ErrorKind;
using S = Side;
using P = Phase;
using V = RetryVerdict;

// A try that failed with `kind` on `side` in `phase`; by default a GET
// (resendable) on a fresh connection with retries left and no answer.
struct Try {
  K kind = K::closed;
  S side = S::server;
  P phase = P::headers;
  bool resendable = true;
  bool reused = false;
  bool answer_started = false;
  int retries_left = 2;

  TryFacts facts() const {
    TryFacts f;
    f.error.kind = kind;
    f.error.side = side;
    f.error.phase = phase;
    f.retries_left = retries_left;
    f.reused_connection = reused;
    f.answer_started = answer_started;
    f.resendable_request = resendable;
    return f;
  }
};

struct Case {
  const char* what;
  Try attempt;
  V verdict;
  bool counts;
};

void expect_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(decide_retry(c.attempt.facts()), c.verdict);
    EXPECT_EQ(counts_against_server(c.attempt.facts()), c.counts);
  }
}

// Nothing reached a server: any method goes again, and the server is
// charged with the failure.
TEST(RetryPolicy, AFailedConnectIsRetriedForAnyMethod) {
  expect_cases({
      {"POST, connection refused",
       {.kind = K::refused, .phase = P::connect, .resendable = false},
       V::retry,
       true},
      {"POST, connect timed out",
       {.kind = K::timeout, .phase = P::connect, .resendable = false},
       V::retry,
       true},
      {"GET, connect failed", {.kind = K::closed, .phase = P::connect}, V::retry, true},
  });
}

// RFC 9110 §9.2.2, RFC 9112 §9.3.1: a sent request goes again only if the
// server cannot have acted on it twice.
TEST(RetryPolicy, ASentRequestIsRetriedOnlyWhenItCanBeResent) {
  expect_cases({
      {"GET, fresh connection closed unanswered", {}, V::retry, true},
      {"POST, fresh connection closed unanswered", {.resendable = false}, V::give_up, true},
      {"GET, silent server on a pooled connection",
       {.kind = K::timeout, .reused = true},
       V::retry,
       true},
      {"POST, silent server", {.kind = K::timeout, .resendable = false}, V::give_up, true},
  });
}

// A pooled connection closed before any byte of an answer: the server's
// idle timeout, not ill health; its retry is not held to the budget.
TEST(RetryPolicy, TheKeepAliveRaceIsRetriedFreeAndNotCounted) {
  expect_cases({
      {"GET, pooled connection closed unanswered", {.reused = true}, V::retry_free, false},
      {"POST, pooled connection closed unanswered",
       {.resendable = false, .reused = true},
       V::give_up,
       false},
  });
  EXPECT_TRUE(keep_alive_race(Try{.reused = true}.facts()));
  EXPECT_FALSE(keep_alive_race(Try{.kind = K::timeout, .reused = true}.facts()));
  EXPECT_FALSE(keep_alive_race(Try{.reused = true, .answer_started = true}.facts()));
  EXPECT_FALSE(keep_alive_race(Try{}.facts()));
}

TEST(RetryPolicy, NoRetriesLeftGivesUp) {
  expect_cases({
      {"GET, keep-alive race", {.reused = true, .retries_left = 0}, V::give_up, false},
      {"GET, silent server", {.kind = K::timeout, .retries_left = 0}, V::give_up, true},
      {"connection refused",
       {.kind = K::refused, .phase = P::connect, .retries_left = 0},
       V::give_up,
       true},
  });
}

// A byte of an answer (an interim response included) means the server
// acted on the request.
TEST(RetryPolicy, AnAnswerThatStartedIsNotRetried) {
  expect_cases({
      {"GET, pooled connection closed mid-head",
       {.reused = true, .answer_started = true},
       V::give_up,
       true},
      {"GET, silent after a 100 Continue",
       {.kind = K::timeout, .answer_started = true},
       V::give_up,
       true},
  });
}

// The server did answer, badly: not retried, and (as before the error
// type) not charged to its health.
TEST(RetryPolicy, AnAnswerThatBrokeTheProtocolIsNotRetried) {
  expect_cases({
      {"GET, malformed response head", {.kind = K::malformed}, V::give_up, false},
      {"GET, response head too large", {.kind = K::too_large, .reused = true}, V::give_up, false},
      {"GET, closed mid-body", {.phase = P::data, .answer_started = true}, V::give_up, false},
  });
}

// Another server would fare no better, and the server is not to blame.
TEST(RetryPolicy, FailuresNotOfTheServerAreNeitherRetriedNorCounted) {
  expect_cases({
      {"out of descriptors",
       {.kind = K::shortage, .side = S::local, .phase = P::connect},
       V::give_up,
       false},
      {"no server usable",
       {.kind = K::no_server, .side = S::proxy, .phase = P::connect},
       V::give_up,
       false},
      {"queue full",
       {.kind = K::queue_full, .side = S::proxy, .phase = P::queue},
       V::give_up,
       false},
      {"CONNECT not allowed",
       {.kind = K::not_allowed, .side = S::proxy, .phase = P::request},
       V::give_up,
       false},
      {"client left awaiting the head", {.side = S::client, .reused = true}, V::give_up, false},
      {"client left while connecting", {.side = S::client, .phase = P::connect}, V::give_up, false},
      {"request body too slow",
       {.kind = K::too_slow, .side = S::client, .phase = P::request},
       V::give_up,
       false},
  });
}

}  // namespace
}  // namespace sluice::proxy
