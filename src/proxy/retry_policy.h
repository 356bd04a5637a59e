// Whether a failed try is sent again, to another server. One decision,
// kept apart from the exchange so that it can be read, and tested, as a
// table. RFC 9110 §9.2.2 and RFC 9112 §9.3.1: a request is resent only
// when the server cannot have acted on it: it never reached a server
// (connect failed), or it is idempotent, its whole body is in hand, and
// no byte of an answer came.
#pragma once

#include "proxy/exchange_error.h"

namespace sluice::proxy {

struct TryFacts {
  ExchangeError error;             // how the try failed (phase connect or headers)
  int retries_left = 0;            // retries.attempts not yet used
  bool reused_connection = false;  // the try ran on a pooled connection
  bool answer_started = false;     // a byte of a response came (an interim one included)
  // The request may be sent twice: idempotent (by method, or an
  // Idempotency-Key the backend opts in to), its body read whole from the
  // client and held for a resend (within retries.max_body).
  bool resendable_request = false;
  // RFC 9113 §8.7: an HTTP/2 server said it did not process the request
  // (REFUSED_STREAM, or a GOAWAY's last-stream-id below it), and its whole
  // body is in hand: as if it had never been sent.
  bool not_processed = false;
};

enum class RetryVerdict : std::uint8_t {
  give_up,     // answer the client with the error
  retry,       // try another server, within the retry budget
  retry_free,  // try another server without counting against the budget:
               // the benign keep-alive race (a pooled connection closed
               // before any byte of an answer)
};

// The rules (a try that gets anything but give_up goes to another server;
// the budget check for `retry` is the caller's):
// - not_processed, with retries left -> retry_free, whatever the method:
//   the server's own word that it did nothing (a graceful GOAWAY sends
//   many such at once; they are neither a failure nor load).
// - no retries left, or not the server's failure (client, proxy, local
//   side: another server would fare no better) -> give_up.
// - phase connect, closed/refused/timeout -> retry, whatever the method:
//   nothing reached a server.
// - phase headers, closed/timeout, a resendable request and no byte of an
//   answer -> retry_free for the keep-alive race (a pooled connection
//   closed), retry otherwise (a silent server, a fresh connection closed).
// - anything else (a malformed or oversized answer, the data phase) ->
//   give_up: the server did answer.
// `error.retryable` is not read: the rules above decide from kind and phase.
RetryVerdict decide_retry(const TryFacts& facts);

// Whether the failure counts against the server's health (passive checks,
// outlier ejection): not the keep-alive race, not our own shortage, not a
// failure of the client.
//
// It counts when the server could not be reached (a request the server
// said it did not process never counts) or did not answer:
// closed, refused or timeout in phase connect or headers, except the
// keep-alive race (phase headers, closed, reused_connection, no byte of an
// answer). A malformed or oversized answer does not count (the server is
// up and answering), nor does anything in phase data (its head already
// counted as a success).
bool counts_against_server(const TryFacts& facts);

// The benign keep-alive race: a pooled connection the server closed before
// any byte of an answer (its idle timeout at work; RFC 9112 §9.3.1).
bool keep_alive_race(const TryFacts& facts);

}  // namespace sluice::proxy
