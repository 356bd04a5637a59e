// Top-level `request_id` (docs/config.md, "request_id").
#include <cassert>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Fields the proxy states itself (framing, routing, trace context): a
// request id written over one of them would break the request.
bool proxy_owned(std::string_view name) {
  static constexpr std::string_view kOwned[] = {"host",
                                                "content-length",
                                                "transfer-encoding",
                                                "connection",
                                                "keep-alive",
                                                "upgrade",
                                                "te",
                                                "trailer",
                                                "proxy-connection",
                                                "expect",
                                                "traceparent",
                                                "tracestate",
                                                "x-forwarded-for",
                                                "x-forwarded-proto",
                                                "x-forwarded-host"};
  for (std::string_view o : kOwned) {
    if (same_name(name, o)) return true;
  }
  return false;
}

}  // namespace

// `request_id: false` turns it off; `true` or a map of settings, on.
void load_request_id(Walker& w, const yaml::Node& n, RequestId& out) {
  const Block b{"", "request_id"};
  if (n.IsScalar()) {
    w.bool_value(n, "request_id", out.enabled);
    return;
  }
  if (!w.map_with_keys(n, b, {"header", "trust_from", "response"})) return;
  if (w.string_field(n, "header", b, out.header)) {
    if (!is_token(out.header)) {
      w.error(field(n, "header"),
              b.at("header") + ": " + quote(out.header) + " is not a valid header field name");
    } else if (proxy_owned(out.header)) {
      w.error(field(n, "header"),
              b.at("header") + ": " + quote(out.header) + " is a field sluice states itself");
    }
  }
  std::vector<yaml::Node> nodes;
  w.string_list(n, "trust_from", b, out.trust_from, nullptr, &nodes);
  assert(nodes.size() == out.trust_from.size());  // one node per item read
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!valid_cidr(out.trust_from[i])) {
      w.error(nodes[i], b.at("trust_from") +
                            ": expected a network such as 10.0.0.0/8 or ::1/128, got " +
                            quote(out.trust_from[i]));
    }
  }
  w.bool_field(n, "response", b, out.response);
}

}  // namespace sluice::config
