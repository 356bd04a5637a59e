#include "proxy/forwarded_response.h"

#include <cassert>

#include "http/hop_by_hop.h"
#include "http/token.h"
#include "proxy/reproxy.h"

namespace sluice::proxy {

http::OutgoingResponse forwarded_response(const http::ResponseHead& head,
                                          std::span<http::HeaderField> fields,
                                          const ForwardedResponseInputs& in,
                                          std::string& cookie_storage) {
  assert(head.fields.data() == fields.data() && head.fields.size() < fields.size());
  // RFC 9110 §8.6: a HEAD or 304 response may carry the Content-Length of
  // the representation it did not send; elsewhere the framing is ours.
  const bool keep_length = head.framing == http::Framing::none &&
                           (in.request_method == http::Method::HEAD || head.status == 304);
  const http::HopByHopFields hop(head.fields);
  std::size_t kept = 0;
  for (const auto& f : head.fields) {
    if (hop.contains(f.name) && !(in.switching && http::iequals_literal<"upgrade">(f.name)))
      continue;
    if (!keep_length && http::iequals_literal<"content-length">(f.name)) continue;
    // Meant for us (reproxy.h), on every route: a client never sees them.
    if (is_reproxy_field(f.name)) continue;
    fields[kept++] = f;
  }
  if (!in.sticky_cookie.empty()) {
    // sticky: later requests carrying this cookie go to the same server.
    cookie_storage.assign(in.sticky_cookie).append("; Path=/; HttpOnly");
    fields[kept++] = {"Set-Cookie", cookie_storage};
  }
  http::OutgoingResponse res;
  res.status = head.status;
  res.reason = head.reason;
  res.fields = std::span<const http::HeaderField>(fields.data(), kept);
  res.upgrade = in.switching;
  switch (head.framing) {
    case http::Framing::content_length:
      res.body = http::BodyKind::sized;
      res.length = head.content_length;
      break;
    case http::Framing::chunked:
    case http::Framing::close_delimited:
      res.body = http::BodyKind::streamed;
      break;
    case http::Framing::none:
      res.body = http::BodyKind::none;
      break;
  }
  return res;
}

std::span<const http::HeaderField> hsts_field(std::string_view hsts, bool secure,
                                              std::span<const http::HeaderField> fields,
                                              http::HeaderField& storage) {
  if (hsts.empty() || !secure) return {};
  for (const auto& f : fields) {
    if (http::iequals_literal<"strict-transport-security">(f.name)) return {};
  }
  storage = {"Strict-Transport-Security", hsts};
  return {&storage, 1};
}

}  // namespace sluice::proxy
