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
  ExchangeError error;         // how the try failed (phase connect or headers)
  int retries_left = 0;        // retries.attempts not yet used
  bool reused_connection = false;  // the try ran on a pooled connection
  bool answer_started = false;     // a byte of a response came (an interim one included)
  // The request may be sent twice: idempotent (by method, or an
  // Idempotency-Key the backend opts in to), its body read whole from the
  // client and held for a resend (within retries.max_body).
  bool resendable_request = false;
};

enum class RetryVerdict : std::uint8_t {
  give_up,      // answer the client with the error
  retry,        // try another server, within the retry budget
  retry_free,   // try another server without counting against the budget:
                // the benign keep-alive race (a pooled connection closed
                // before any byte of an answer)
};

RetryVerdict decide_retry(const TryFacts& facts);

// Whether the failure counts against the server's health (passive checks,
// outlier ejection): not the keep-alive race, not our own shortage, not a
// failure of the client.
bool counts_against_server(const TryFacts& facts);

}  // namespace sluice::proxy
