// What one request did, as the client's session saw it: filled while the
// request runs (the session, the exchange) and handed, once, to what
// operators see (metrics, the access log, a trace span) when it ends.
//
// Everything here is plain values and views: the views point into the
// request's head, its pinned route and backend, and the connection, all of
// which outlive the moment the record is handed over. A consumer that keeps
// anything copies it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/address.h"

namespace sluice::observe {

// "No series": a listener, route, backend or server without a metrics slot
// (none configured, or over the cardinality cap).
inline constexpr std::uint32_t kNoSlot = UINT32_MAX;

// Where a failed try failed, for retries by phase.
enum class FailurePhase : std::uint8_t { connect, send, await, count };

struct TraceContext {
  std::array<char, 32> trace_id{};   // lowercase hex, W3C trace-context §3.2.2.3
  std::array<char, 16> span_id{};    // our span (the parent the backend sees)
  std::array<char, 16> parent_id{};  // the client's span; all '\0' when we began the trace
  bool sampled = false;
  bool valid = false;  // false: no trace (tracing off)
};

struct RequestRecord {
  // When the request began: wall clock (for logs and spans) and the
  // monotonic clock (for durations).
  std::uint64_t start_unix_us = 0;  // set when the record is handed over
  std::uint64_t start_us = 0;       // monotonic_now_us() (wall_clock.h)
  // Durations are wanted (metrics, an access log or a tracer): without
  // them, a record kept only for its request id reads no clock.
  bool timed = false;

  // Who and where.
  const SocketAddress* client = nullptr;  // the client (after PROXY / forwarded rules)
  std::string_view listener;
  std::uint32_t listener_slot = kNoSlot;
  std::string_view protocol;  // "HTTP/1.0", "HTTP/1.1", "HTTP/2"

  // The request as received (views into its head).
  std::string_view method;
  std::string_view host;
  std::string_view target;  // path and query as the client sent them

  // Where it went. Empty / kNoSlot: no route matched, or none was needed.
  std::string_view route;
  std::uint32_t route_slot = kNoSlot;
  std::string_view backend;
  std::uint32_t backend_slot = kNoSlot;
  std::string_view server;  // the last server tried, as configured
  std::uint32_t server_slot = kNoSlot;

  // How it ended.
  int status = 0;               // sent to the client; 0: none (closed without one)
  std::uint64_t bytes_in = 0;   // request head and body bytes read from the client
  std::uint64_t bytes_out = 0;  // response head and body bytes written to the client
  std::int64_t connect_us =
      -1;  // connecting to the server that answered; -1: none (pooled or no backend)
  std::int64_t queue_us = -1;       // waiting for a slot at the server's max_connections; -1: none
  std::int64_t first_byte_us = -1;  // request start -> first byte of the response head; -1: none
  std::int64_t total_us = 0;        // request start -> last byte written
  std::uint32_t retries = 0;        // tries after the first
  std::array<std::uint16_t, static_cast<int>(FailurePhase::count)>
      failures{};                       // failed tries by phase
  bool reused_connection = false;       // the answering try used a pooled connection
  std::string_view termination = "--";  // two-letter termination code (proxy/exchange_error.h)

  // Identity.
  // Ours is a 36-character UUID; a trusted client's may be up to 64 bytes.
  std::array<char, 64> request_id_buf{};
  std::string_view request_id;  // generated or trusted X-Request-Id; empty when off
  TraceContext trace;

  // TLS, when the client spoke it.
  std::string_view tls_version;  // "TLSv1.3"; empty: plain text
  std::string_view sni;
};

}  // namespace sluice::observe
