// IP addresses and sets of networks, for the access middleware's allow,
// deny and trusted_proxies lists. The syntax was checked at load
// (config::valid_cidr); this is the form that matches fast.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {
class SocketAddress;
}

namespace sluice::middleware {

// An IPv4 or IPv6 address without a port. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.7, what a dual-stack listener sees of an IPv4 client) is
// held as the IPv4 address it maps, so IPv4 networks match it.
struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // the first 4 for IPv4

  // "192.0.2.7" or "2001:db8::1" (no brackets, no port); false otherwise.
  static bool parse(std::string_view text, IpAddress& out);
  // False for a socket address that is not IPv4 or IPv6 (a Unix socket).
  static bool of(const SocketAddress& address, IpAddress& out);

  std::string to_string() const;  // "192.0.2.7" or "2001:db8::1"
};

// A set of networks: "10.0.0.0/8", "2001:db8::/32", "192.0.2.7".
class CidrSet {
 public:
  // False if `text` is not a network (then the set is unchanged).
  bool add(std::string_view text);
  bool contains(const IpAddress& address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    IpAddress base;  // its bits beyond `prefix` are zero
    int prefix = 0;
  };
  std::vector<Network> networks_;
};

}  // namespace sluice::middleware
