// How an exchange ends when it does not end well: one value (what went
// wrong, on which side, in which phase), mapped in one place to what the
// client hears (a status, or a close), and to a two-letter termination
// code in the style of HAProxy's logs (who ended the exchange, in which
// phase), which the access log prints. The table is in docs/architecture.md.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::proxy {

// Who ended the exchange.
enum class Side : std::uint8_t {
  client,  // the client: it left, was too slow, or sent something we refuse
  server,  // the server: it refused, failed, broke the protocol or was silent
  proxy,   // our own rules: a limit, the queue, a policy, no server to pick
  local,   // this host ran short: descriptors, local ports, memory
};

// Where the exchange was when it ended (HAProxy's second letter).
enum class Phase : std::uint8_t {
  request,  // R: reading the client's request (head or body)
  queue,    // Q: waiting for a server slot (max_connections)
  connect,  // C: picking a server and connecting to it
  headers,  // H: request sent (or being sent), waiting for the response head
  data,     // D: relaying the response body (or a tunnel)
};

enum class ErrorKind : std::uint8_t {
  closed,       // the peer closed or reset the connection
  timeout,      // the peer was silent past a deadline
  refused,      // the server refused the connection
  malformed,    // the peer's bytes broke the protocol
  too_large,    // a head over a limit (a request body: body_too_large)
  too_slow,     // a request body below min_body_rate or past timeouts.request
  no_server,    // no server of the backend is usable
  queue_full,   // the server is at max_connections and its queue is full or timed out
  shortage,     // out of descriptors or ports here (Side::local)
  not_allowed,  // refused by configuration (a CONNECT where the route does not allow it)
  // Client-side refusals whose status the kinds above cannot tell apart
  // (appended: the values above keep their numbers). `too_large` is a head
  // (431); a body over max_body_size is a different answer (413).
  body_too_large,       // a request body over the listener's max_body_size (413)
  target_too_long,      // a request line over max_request_line (414)
  unsupported,          // a transfer coding we do not implement (501)
  version_unsupported,  // an HTTP version we do not speak (505)
};

// The kind of a request the HTTP/1 parser refused, from the status it
// chose (http::ParseError::status: 400, 413, 414, 431, 501, 505), so that
// reply_for gives that status back. Anything else is `malformed`.
ErrorKind request_error_kind(int parser_status);

struct ExchangeError {
  ErrorKind kind = ErrorKind::closed;
  Side side = Side::server;
  Phase phase = Phase::headers;
  // Another server might not fail the same way: the server's side
  // refused, closed or was silent before any response (set where the
  // error is made). Whether the request may go again is what
  // retry_policy.h adds: the method, the body in hand, the budget.
  bool retryable = false;
  // For the log line and the error response body, e.g. "connection refused
  // by the server" (static text).
  const char* reason = "";
  // Appended to the log line after "; " when set (static text), e.g. "no
  // other server is usable".
  const char* detail = nullptr;
};

// What the client hears of an error.
struct ErrorReply {
  int status = 0;      // the response to send; 0: none, the connection closes
  bool abort = false;  // close at once, without a lingering read: a response was cut off
};

// `response_started`: some of the response already reached the client.
// `earlier_requests`: the client connection carried requests before this
// one, so a client can retry a request that got a close itself (RFC 9112
// §9.3.1).
//
// The rules, in order:
// - the response started: {0, abort}, whatever happened; a status cannot
//   follow part of a response.
// - client side: closed -> {0} (nobody to answer); timeout, too_slow -> 408;
//   malformed -> 400; too_large (a head) -> 431; body_too_large -> 413;
//   target_too_long -> 414; unsupported -> 501; version_unsupported -> 505.
// - server side: timeout -> 504; closed in phase headers on a connection
//   with earlier requests -> {0, abort} (the request was sent and cannot be
//   resent: the client gets the close we got, and its own retry rules);
//   anything else -> 502.
// - proxy side: not_allowed -> 405; too_large (our rewritten head did not
//   fit) -> 431; anything else (no_server, queue_full) -> 503.
// - local side: 503.
// A request the exchange decided to resend but found no other server for
// (the log's "no other server is usable") was answered 502 or 504 even on
// a later request, as docs/config.md says: pass earlier_requests = false
// there. The close is for a request that cannot be sent again.
ErrorReply reply_for(const ExchangeError& e, bool response_started, bool earlier_requests);

// Two letters: who ended the exchange (C client, S server, P proxy, R
// resource shortage; c and s for client and server timeouts), then the
// phase (R, Q, C, H, D). "--" is an exchange that ended well, "LR" one
// answered locally (redirect, respond, 404).
//
// The first letter: client side: c for timeout and too_slow, else C;
// server side: s for timeout, else S; local side: R; proxy side: P in
// phase request (our rules refused the request before any server was
// involved), otherwise S for no_server and s for queue_full (HAProxy's SC
// "no server" and sQ "timed out in the queue"), else P. The second letter
// is the phase alone.
std::string_view termination_code(const ExchangeError& e);
inline constexpr std::string_view kCompleted = "--";
inline constexpr std::string_view kAnsweredLocally = "LR";

}  // namespace sluice::proxy
