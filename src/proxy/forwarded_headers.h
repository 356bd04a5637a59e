// Which X-Forwarded-* fields a forwarded request gets (config `forwarded`),
// and for which clients: the `except` networks get none added.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
class SocketAddress;
}

namespace sluice::proxy {

// An IPv4 or IPv6 network: address bytes and prefix length.
struct Network {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};
  int prefix = 0;

  // "10.0.0.0/8", "::1/128" or a single address; false if malformed.
  static bool parse(std::string_view text, Network& out);
  bool contains(const SocketAddress& addr) const;
};

struct ForwardedPolicy {
  bool x_forwarded_for = true;
  bool x_forwarded_proto = true;
  bool x_forwarded_host = true;
  std::vector<Network> except;

  // True if this client's requests get the configured fields.
  bool applies_to(const SocketAddress& client) const;
};

}  // namespace sluice::proxy
