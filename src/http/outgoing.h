// The heads the proxy sends, in no protocol's syntax: an encoder per
// protocol (HTTP/1 in h1_encoder.h, HTTP/2 next) writes them on the wire.
// Views only: the caller keeps the bytes alive while a head is written.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "http/message.h"

namespace sluice::http {

// What follows a head: nothing, a body whose length is known up front, or a
// body whose end is known only when it comes (chunked, close-delimited, or
// an HTTP/2 stream without content-length).
enum class BodyKind : std::uint8_t { none, sized, streamed };

struct OutgoingRequest {
  std::string_view method;
  // Origin-form ("/p?q"; a "?q" form gets "/" in front, RFC 9112 §3.2.1),
  // authority-form for CONNECT, or "*".
  std::string_view target;
  std::string_view authority;  // Host (RFC 9112 §3.2), :authority in HTTP/2
  // End-to-end fields, in order, already filtered: no Host, no framing
  // fields, no Connection or other hop-by-hop fields (the Upgrade field is
  // here when `upgrade`).
  std::span<const HeaderField> fields;
  BodyKind body = BodyKind::none;
  std::uint64_t length = 0;  // BodyKind::sized (0 allowed: RFC 9110 §8.6)
  bool upgrade = false;      // ask to switch protocols (HTTP/1: Connection: upgrade)
};

struct OutgoingResponse {
  int status = 200;
  std::string_view reason;  // empty: the standard reason phrase
  // End-to-end fields, in order, already filtered: no framing fields (a
  // Content-Length describing a body not sent, to HEAD or in a 304, may
  // stay: RFC 9110 §8.6), no Connection or other hop-by-hop fields (the
  // Upgrade field is here when `upgrade`).
  std::span<const HeaderField> fields;
  // Fields the listener adds to every response it sends (HSTS), after those.
  std::span<const HeaderField> listener_fields;
  BodyKind body = BodyKind::none;
  std::uint64_t length = 0;  // BodyKind::sized
  bool upgrade = false;      // a 101: HTTP/1 says Connection: upgrade
};

}  // namespace sluice::http
