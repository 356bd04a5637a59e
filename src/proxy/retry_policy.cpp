// Whether a failed try goes again, and whether it counts against the
// server. The rules are listed in retry_policy.h.
#include "proxy/retry_policy.h"

namespace sluice::proxy {
namespace {

// The server could not be reached, or went away or silent before
// answering: the failures another server may not share.
bool unreachable_or_silent(ErrorKind kind) {
  return kind == ErrorKind::closed || kind == ErrorKind::refused || kind == ErrorKind::timeout;
}

}  // namespace

bool keep_alive_race(const TryFacts& facts) {
  const ExchangeError& e = facts.error;
  return e.side == Side::server && e.phase == Phase::headers && e.kind == ErrorKind::closed &&
         facts.reused_connection && !facts.answer_started;
}

RetryVerdict decide_retry(const TryFacts& facts) {
  const ExchangeError& e = facts.error;
  if (facts.not_processed && facts.retries_left > 0) return RetryVerdict::retry_free;
  // Not the server's failure: another server would fare no better.
  if (facts.retries_left <= 0 || e.side != Side::server) return RetryVerdict::give_up;
  if (!unreachable_or_silent(e.kind)) return RetryVerdict::give_up;  // the server did answer
  switch (e.phase) {
    case Phase::connect:
      // Nothing reached a server: any request may go again.
      return RetryVerdict::retry;
    case Phase::headers:
      // Sent, and no answer: resend only what the server cannot have acted
      // on twice (RFC 9110 §9.2.2, RFC 9112 §9.3.1).
      if (e.kind == ErrorKind::refused || !facts.resendable_request || facts.answer_started) {
        return RetryVerdict::give_up;
      }
      return keep_alive_race(facts) ? RetryVerdict::retry_free : RetryVerdict::retry;
    case Phase::request:
    case Phase::queue:
    case Phase::data:
      break;
  }
  return RetryVerdict::give_up;
}

bool counts_against_server(const TryFacts& facts) {
  const ExchangeError& e = facts.error;
  if (facts.not_processed) return false;
  if (e.side != Side::server || !unreachable_or_silent(e.kind)) return false;
  if (e.phase != Phase::connect && e.phase != Phase::headers) return false;
  return !keep_alive_race(facts);
}

}  // namespace sluice::proxy
