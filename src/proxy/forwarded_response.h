// The response as the client receives it: the server's end-to-end fields
// (hop-by-hop ones out, framing stated afresh by the client's codec), and
// the sticky cookie when this response chose the server. Version-neutral
// (http::OutgoingResponse): the downstream writes it.
#pragma once

#include <span>
#include <string>

#include "http/message.h"
#include "http/outgoing.h"

namespace sluice::proxy {

struct ForwardedResponseInputs {
  http::Method request_method = http::Method::GET;
  // A 101 keeps its Upgrade field; anything else drops it with the other
  // hop-by-hop fields.
  bool switching = false;
  // The sticky cookie to set (name=value; empty: none).
  std::string_view sticky_cookie;
};

// Filters `fields` (the parsed head's storage) in place and describes the
// response. `fields` must have room for one field more than head.fields.
http::OutgoingResponse forwarded_response(const http::ResponseHead& head,
                                          std::span<http::HeaderField> fields,
                                          const ForwardedResponseInputs& in,
                                          std::string& cookie_storage);

// Strict-Transport-Security for a response sent over TLS on a listener
// with `hsts` set (RFC 6797 §7.2: never over plain HTTP), unless the
// response carries its own. Empty, or one field (kept in `storage`).
std::span<const http::HeaderField> hsts_field(std::string_view hsts, bool secure,
                                              std::span<const http::HeaderField> fields,
                                              http::HeaderField& storage);

}  // namespace sluice::proxy
