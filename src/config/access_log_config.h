// The access log's settings (docs/config.md, "access_log"): where the lines
// go, what each says, and which requests get one. The top-level block
// applies to every http listener; a listener's own `access_log` turns it off
// there or replaces some of its keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

// A value a line can show: a format string names them as "${name}"
// (access_log_field_names() gives every spelling).
enum class AccessLogField : std::uint8_t {
  literal,        // text between variables
  time,           // when the request began, RFC 3339 UTC with milliseconds
  client_ip,      // the client's address (the PROXY header's when there was one)
  client_port,    // ... and port
  listener,       // the listener's name
  protocol,       // HTTP/1.0, HTTP/1.1, HTTP/2
  method,         // as sent
  host,           // the Host (or :authority) as sent
  path,           // the request target as sent: path and query
  status,         // sent to the client; none when it got none
  bytes_in,       // request head and body bytes read from the client
  bytes_out,      // response head and body bytes written to the client
  duration_ms,    // first byte of the request to last byte of the response
  connect_ms,     // connecting to the server that answered; none when pooled or local
  first_byte_ms,  // request start to the first byte of the response head
  route,          // the matched route's name
  backend,        // the backend's name
  server,         // the last server tried, as configured
  retries,        // tries after the first
  reused,         // the answering try used a pooled connection: true or false
  termination,    // two-letter termination code ("--": ended well)
  request_id,     // the X-Request-Id in force
  trace_id,       // W3C trace id (32 hex digits)
  tls_version,    // TLSv1.2, TLSv1.3; none over plain text
  sni,            // the server name the client's TLS hello asked for
};

// The variables' spellings, in AccessLogField order after `literal`.
const std::vector<std::string>& access_log_field_names();

struct AccessLogPiece {
  AccessLogField field = AccessLogField::literal;
  std::string literal;  // for literal
};

// Which failed requests sampling may skip. A failed request is one with a
// 5xx status, no status at all, or a termination code other than "--" and
// "LR" (a timeout, an abort, a refused server): HAProxy's "errors" in
// `option dontlog-normal`.
enum class AccessLogErrors : std::uint8_t {
  always,   // every failed request gets its line, whatever `sample` says
  sampled,  // failed requests are sampled as the others are
};

struct AccessLogSettings {
  std::string path = "stdout";         // "stdout", "stderr", or a file (resolved at load)
  bool json = true;                    // one JSON object per line; else `pieces`
  std::string format = "json";         // as written (a format string, "json" or "text")
  std::vector<AccessLogPiece> pieces;  // a format string, split at load
  double sample = 1.0;                 // share of requests written, 0..1
  AccessLogErrors errors = AccessLogErrors::always;
};

// A listener's `access_log`: `false` turns it off there; a block gives
// keys that replace the top level's (the others are the top level's, or
// the defaults when there is no top-level block).
struct ListenerAccessLog {
  bool enabled = true;
  std::optional<std::string> path;
  std::optional<std::string> format;
  std::optional<bool> json;
  std::vector<AccessLogPiece> pieces;  // with format, when not json
  std::optional<double> sample;
  std::optional<AccessLogErrors> errors;
};

// The format `text` stands for: the usual fields, space-separated, the
// request line quoted as in the common log format.
inline constexpr std::string_view kAccessLogTextFormat =
    "${time} ${client_ip} \"${method} ${path} ${protocol}\" ${status} ${bytes_in} ${bytes_out} "
    "${duration_ms} ${listener} ${route} ${backend} ${server} ${termination} ${request_id}";

// Splits a format string: "${name}" is a variable, "$$" a '$', everything
// else literal. False with `error` set (and `bad_name` for an unknown
// variable, so that the caller can suggest a spelling).
bool parse_access_log_format(std::string_view text, std::vector<AccessLogPiece>& out,
                             std::string& error, std::string& bad_name);

}  // namespace sluice::config
