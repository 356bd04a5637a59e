// Who a request is, for backends and for what operators see: its request
// id (X-Request-Id: generated, or kept from a trusted network) and its
// place in a W3C trace (https://www.w3.org/TR/trace-context/): the
// caller's traceparent continued, or a new trace begun, with our span as
// the parent the backend sees. Decided once per request, right after its
// head is parsed, into the RequestRecord; the forwarded request and the
// finished request's span read it from there.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "config/tracing_config.h"
#include "middleware/cidr_set.h"

namespace sluice {
class SocketAddress;
}
namespace sluice::config {
struct Config;
}
namespace sluice::http {
struct RequestHead;
struct HeaderField;
}  // namespace sluice::http
namespace sluice::observe {
struct RequestRecord;
}

namespace sluice::proxy {

struct ListenerSettings;
struct WorkerContext;

// The configuration's `request_id` and `tracing`, shared by every listener.
struct IdentityPolicy {
  bool request_id = true;               // ids are assigned (request_id.enabled)
  std::string header = "X-Request-Id";  // the field that carries them
  middleware::CidrSet trust_from;       // clients whose own id is kept
  bool echo = false;                    // the id goes back in the response (request_id.response)
  bool tracing = false;                 // traceparent is read, continued and sent on
  std::uint64_t sample_threshold = 0;   // observe::sample_threshold(tracing.sample)
  // The exporter's settings, kept to tell a reload that changes them
  // (which needs a restart: the exporter and its queues are made at start).
  std::string service_name;
  std::optional<config::Otlp> otlp;
};

IdentityPolicy build_identity_policy(const config::Config& config);

// Whether assign_identity() needs the client's address (a system call
// for an HTTP/1 session): only to trust a client's own request id.
bool identity_needs_client(const ListenerSettings& listener);

// Called once per request by the client's session (HTTP/1 or an HTTP/2
// stream) after the head is parsed and before any answer or exchange:
// fills record.request_id and record.trace by the listener's policy.
// `client` is the client as the proxy names it (after a PROXY header);
// null when not looked up (identity_needs_client() false): no id is
// trusted then. What is kept is copied into the record.
void assign_identity(WorkerContext& ctx, const ListenerSettings& listener,
                     const http::RequestHead& head, const SocketAddress* client,
                     observe::RequestRecord& record);

// What the listener adds to every response it sends, proxied or its own:
// Strict-Transport-Security over TLS (hsts_field, forwarded_response.h)
// and, with request_id.response, the request's id, unless the response
// (`fields`) already carries one (a backend that echoes the id we sent).
// Views into `storage`, the listener and the record.
std::span<const http::HeaderField> listener_response_fields(
    const ListenerSettings& listener, bool secure, const observe::RequestRecord* record,
    std::span<const http::HeaderField> fields, std::array<http::HeaderField, 2>& storage);

}  // namespace sluice::proxy
