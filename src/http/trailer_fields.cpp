#include "http/trailer_fields.h"

#include "http/token.h"

namespace sluice::http {
namespace {

// RFC 9110 §6.5.1's kinds of field, with the fields of each that this
// proxy or a server behind it acts on before the content.
constexpr std::string_view kNotInTrailers[] = {
    // Framing (RFC 9112 §6) and routing (RFC 9110 §7.2).
    "content-length", "transfer-encoding", "host",
    // Hop-by-hop (RFC 9110 §7.6.1): they describe one connection.
    "connection", "keep-alive", "proxy-connection", "te", "upgrade",
    // Authentication (RFC 9110 §11).
    "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate",
    "authentication-info", "proxy-authentication-info",
    // Request modifiers: controls (RFC 9110 §7.6.2, §10.1) and conditionals (§13.1).
    "expect", "max-forwards", "range", "if-match", "if-none-match", "if-modified-since",
    "if-unmodified-since", "if-range",
    // Response controls (RFC 9110 §10.2, RFC 9111 §5).
    "cache-control", "expires", "age", "pragma", "vary", "location", "retry-after",
    // State (RFC 6265 defines both as header fields; sticky routing reads Cookie).
    "cookie", "set-cookie",
    // The content's format (RFC 9110 §8.3-8.5, §14.4).
    "content-encoding", "content-type", "content-range", "content-location",
    // Trailer announces a trailer section; inside one it means nothing (§6.6.2).
    "trailer"};

}  // namespace

bool allowed_in_trailers(std::string_view name) {
  if (name.empty() || name.front() == ':') return false;
  for (const std::string_view f : kNotInTrailers) {
    if (iequals(name, f)) return false;
  }
  return true;
}

}  // namespace sluice::http
