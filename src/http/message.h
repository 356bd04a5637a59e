// HTTP/1.x message heads as views into the caller's buffer. Nothing here
// owns memory: a head is valid while the bytes it was parsed from are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::http {

struct HeaderField {
  std::string_view name;
  std::string_view value;  // without leading and trailing white space
};

enum class Method : std::uint8_t {
  GET,
  HEAD,
  POST,
  PUT,
  DELETE,
  CONNECT,
  OPTIONS,
  TRACE,
  PATCH,
  other
};

// How the message body is delimited (RFC 9112 §6).
enum class Framing : std::uint8_t {
  none,             // no body
  content_length,   // exactly content_length bytes
  chunked,          // chunked transfer coding
  close_delimited,  // until the connection closes (responses only)
};

struct RequestHead {
  std::string_view method_text;
  Method method = Method::other;
  // Origin-form ("/p?q"), asterisk-form or authority-form (CONNECT). An
  // absolute-form target arrives here as origin-form, its authority in
  // `host`; when its path was empty before a query this is "?q", and a
  // writer puts "/" in front (RFC 9112 §3.2.1).
  std::string_view target;
  int version_minor = 1;  // HTTP/1.<minor>
  std::span<const HeaderField> fields;
  Framing framing = Framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;        // RFC 9112 §9.3
  bool expect_continue = false;  // Expect: 100-continue
  bool upgrade = false;          // Connection: upgrade and an Upgrade field
  // A valid uri-host [":" port] (RFC 9110 §7.2): the authority of an
  // absolute-form target, else the Host field; empty only in HTTP/1.0.
  std::string_view host;
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version_minor = 1;
  std::span<const HeaderField> fields;
  Framing framing = Framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  // Framing was ambiguous (Content-Length beside Transfer-Encoding): the
  // body can be read, but the connection must not be reused (RFC 9112 §6.3).
  bool must_close = false;
};

Method method_from(std::string_view text);
bool is_idempotent(Method m);  // RFC 9110 §9.2.2

}  // namespace sluice::http
