// The one place where an exchange's error becomes what the client hears
// and the termination code the log prints. The rules are listed in
// exchange_error.h.
#include "proxy/exchange_error.h"

namespace sluice::proxy {
namespace {

int client_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::closed:
      return 0;  // the client left: nobody to answer
    case ErrorKind::timeout:
    case ErrorKind::too_slow:
      return 408;
    case ErrorKind::malformed:
      return 400;
    case ErrorKind::too_large:
      return 431;  // a head (RFC 6585 §5)
    case ErrorKind::body_too_large:
      return 413;
    case ErrorKind::target_too_long:
      return 414;
    case ErrorKind::unsupported:
      return 501;  // RFC 9112 §6.1: a transfer coding we do not understand
    case ErrorKind::version_unsupported:
      return 505;
    case ErrorKind::not_allowed:
      return 405;
    case ErrorKind::refused:
    case ErrorKind::no_server:
    case ErrorKind::queue_full:
    case ErrorKind::shortage:
      break;  // never the client's: answered as ours
  }
  return 503;
}

ErrorReply server_reply(const ExchangeError& e, bool earlier_requests) {
  if (e.kind == ErrorKind::timeout) return {504, false};
  // RFC 9112 §9.3.1: the request was sent and got no answer. A client
  // whose connection carried earlier requests can tell this close from a
  // response and apply its own retry rules, so it gets the close we got;
  // a first request gets 502.
  if (e.kind == ErrorKind::closed && e.phase == Phase::headers && earlier_requests) {
    return {0, true};
  }
  return {502, false};
}

int proxy_status(ErrorKind kind) {
  if (kind == ErrorKind::not_allowed) return 405;
  if (kind == ErrorKind::too_large) return 431;  // the head we would forward does not fit
  return 503;
}

// Who ended the exchange, as a row of kCodes.
enum Who { kClient, kClientTimeout, kServer, kServerTimeout, kProxy, kShortage };

Who who(const ExchangeError& e) {
  switch (e.side) {
    case Side::client:
      return e.kind == ErrorKind::timeout || e.kind == ErrorKind::too_slow ? kClientTimeout
                                                                           : kClient;
    case Side::server:
      return e.kind == ErrorKind::timeout ? kServerTimeout : kServer;
    case Side::local:
      return kShortage;
    case Side::proxy:
      break;
  }
  // Before any server was involved the refusal is our rule's alone.
  if (e.phase == Phase::request) return kProxy;
  if (e.kind == ErrorKind::no_server) return kServer;          // HAProxy's "SC" (<NOSRV>)
  if (e.kind == ErrorKind::queue_full) return kServerTimeout;  // HAProxy's "sQ"
  return kProxy;
}

// [who][phase]: every code there is, as static text.
constexpr std::string_view kCodes[6][5] = {
    {"CR", "CQ", "CC", "CH", "CD"}, {"cR", "cQ", "cC", "cH", "cD"}, {"SR", "SQ", "SC", "SH", "SD"},
    {"sR", "sQ", "sC", "sH", "sD"}, {"PR", "PQ", "PC", "PH", "PD"}, {"RR", "RQ", "RC", "RH", "RD"},
};
static_assert(static_cast<int>(Phase::data) == 4, "kCodes has a column per phase, in order");

}  // namespace

ErrorKind request_error_kind(int parser_status) {
  switch (parser_status) {
    case 413:
      return ErrorKind::body_too_large;
    case 414:
      return ErrorKind::target_too_long;
    case 431:
      return ErrorKind::too_large;
    case 501:
      return ErrorKind::unsupported;
    case 505:
      return ErrorKind::version_unsupported;
    default:
      return ErrorKind::malformed;
  }
}

ErrorReply reply_for(const ExchangeError& e, bool response_started, bool earlier_requests) {
  // A status cannot follow part of a response: cutting the connection is
  // the only way left to say the response is incomplete.
  if (response_started) return {0, true};
  switch (e.side) {
    case Side::client:
      return {client_status(e.kind), false};
    case Side::server:
      return server_reply(e, earlier_requests);
    case Side::proxy:
      return {proxy_status(e.kind), false};
    case Side::local:
      break;
  }
  return {503, false};  // our shortage: the server is not to blame
}

std::string_view termination_code(const ExchangeError& e) {
  return kCodes[who(e)][static_cast<int>(e.phase)];
}

}  // namespace sluice::proxy
