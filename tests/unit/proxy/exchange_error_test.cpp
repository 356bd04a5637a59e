#include "proxy/exchange_error.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace sluice::proxy {
namespace {

ExchangeError error(ErrorKind kind, Side side, Phase phase) {
  ExchangeError e;
  e.kind = kind;
  e.side = side;
  e.phase = phase;
  return e;
}

// One error as it occurs today, and what the client hears of it.
struct Case {
  const char* what;
  ExchangeError error;
  bool response_started;
  bool earlier_requests;
  int status;
  bool abort;
  std::string_view code;
};

void expect_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const ErrorReply reply = reply_for(c.error, c.response_started, c.earlier_requests);
    EXPECT_EQ(reply.status, c.status);
    EXPECT_EQ(reply.abort, c.abort);
    EXPECT_EQ(termination_code(c.error), c.code);
  }
}

using K = ErrorKind;
using S = Side;
using P = Phase;

TEST(ExchangeError, ClientErrorsGetTheStatusThatNamesThem) {
  expect_cases({
      {"client left mid-head", error(K::closed, S::client, P::request), false, false, 0, false,
       "CR"},
      {"client left while queued", error(K::closed, S::client, P::queue), false, false, 0, false,
       "CQ"},
      {"client left while connecting", error(K::closed, S::client, P::connect), false, false, 0,
       false, "CC"},
      {"client left awaiting the head", error(K::closed, S::client, P::headers), false, true, 0,
       false, "CH"},
      {"head not received in time", error(K::timeout, S::client, P::request), false, false, 408,
       false, "cR"},
      {"request body too slow", error(K::too_slow, S::client, P::request), false, true, 408, false,
       "cR"},
      {"malformed head or chunked body", error(K::malformed, S::client, P::request), false, false,
       400, false, "CR"},
      {"header section too large", error(K::too_large, S::client, P::request), false, false, 431,
       false, "CR"},
      {"body over max_body_bytes", error(K::body_too_large, S::client, P::request), false, false,
       413, false, "CR"},
      {"request line too long", error(K::target_too_long, S::client, P::request), false, false, 414,
       false, "CR"},
      {"unknown transfer coding", error(K::unsupported, S::client, P::request), false, false, 501,
       false, "CR"},
      {"HTTP/2.0 request line", error(K::version_unsupported, S::client, P::request), false, false,
       505, false, "CR"},
  });
}

TEST(ExchangeError, ServerErrorsBeforeTheResponseGet502Or504) {
  expect_cases({
      {"connection refused", error(K::refused, S::server, P::connect), false, false, 502, false,
       "SC"},
      {"connect timed out", error(K::timeout, S::server, P::connect), false, true, 504, false,
       "sC"},
      {"connect failed otherwise", error(K::closed, S::server, P::connect), false, true, 502, false,
       "SC"},
      {"closed unanswered, first request", error(K::closed, S::server, P::headers), false, false,
       502, false, "SH"},
      {"silent server", error(K::timeout, S::server, P::headers), false, false, 504, false, "sH"},
      {"silent server, later request", error(K::timeout, S::server, P::headers), false, true, 504,
       false, "sH"},
      {"invalid response head", error(K::malformed, S::server, P::headers), false, true, 502, false,
       "SH"},
      {"response head too large", error(K::too_large, S::server, P::headers), false, true, 502,
       false, "SH"},
  });
}

// RFC 9112 §9.3.1: the client can retry a request that got a close itself.
TEST(ExchangeError, ASentRequestClosedUnansweredOnALaterRequestIsAnsweredByAClose) {
  expect_cases({
      {"closed unanswered, later request", error(K::closed, S::server, P::headers), false, true, 0,
       true, "SH"},
  });
}

TEST(ExchangeError, OurRefusalsGet503Or405Or431) {
  expect_cases({
      {"CONNECT not allowed", error(K::not_allowed, S::proxy, P::request), false, false, 405, false,
       "PR"},
      {"listener removed by a reload", error(K::no_server, S::proxy, P::request), false, true, 503,
       false, "PR"},
      {"rewritten head does not fit", error(K::too_large, S::proxy, P::request), false, false, 431,
       false, "PR"},
      {"no server usable", error(K::no_server, S::proxy, P::connect), false, false, 503, false,
       "SC"},
      {"queue full or timed out", error(K::queue_full, S::proxy, P::queue), false, false, 503,
       false, "sQ"},
      {"out of descriptors or ports", error(K::shortage, S::local, P::connect), false, true, 503,
       false, "RC"},
  });
}

TEST(ExchangeError, AnyErrorAfterTheResponseStartedCutsTheConnection) {
  expect_cases({
      {"server closed mid-body", error(K::closed, S::server, P::data), true, false, 0, true, "SD"},
      {"server sent a bad chunk", error(K::malformed, S::server, P::data), true, false, 0, true,
       "SD"},
      {"server silent mid-body", error(K::timeout, S::server, P::data), true, true, 0, true, "sD"},
      {"client left mid-body", error(K::closed, S::client, P::data), true, false, 0, true, "CD"},
      {"client silent in a tunnel", error(K::timeout, S::client, P::data), true, false, 0, true,
       "cD"},
  });
}

// Whatever the error, once the response started no status can follow it.
TEST(ExchangeError, NoStatusFollowsAStartedResponse) {
  for (int k = 0; k <= static_cast<int>(K::version_unsupported); ++k) {
    for (int s = 0; s <= static_cast<int>(S::local); ++s) {
      for (int p = 0; p <= static_cast<int>(P::data); ++p) {
        const ExchangeError e = error(static_cast<K>(k), static_cast<S>(s), static_cast<P>(p));
        SCOPED_TRACE(testing::Message() << "kind " << k << " side " << s << " phase " << p);
        const ErrorReply reply = reply_for(e, true, false);
        EXPECT_EQ(reply.status, 0);
        EXPECT_TRUE(reply.abort);
        const std::string_view code = termination_code(e);
        ASSERT_EQ(code.size(), 2u);
        EXPECT_NE(std::string_view("CcSsPR").find(code[0]), std::string_view::npos);
        EXPECT_EQ(code[1], "RQCHD"[p]);
      }
    }
  }
}

// The HTTP/1 parser chose a status for a request it refused; the client
// gets that status back through the error's kind.
TEST(ExchangeError, ARefusedRequestGetsTheParsersStatusBack) {
  for (const int status : {400, 413, 414, 431, 501, 505}) {
    const ExchangeError e = error(request_error_kind(status), S::client, P::request);
    EXPECT_EQ(reply_for(e, false, false).status, status);
  }
}

}  // namespace
}  // namespace sluice::proxy
