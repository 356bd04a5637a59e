#include "middleware/cidr_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "core/address.h"

namespace sluice::middleware {
namespace {

bool is_v4_mapped(const std::uint8_t* a) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, kPrefix, sizeof kPrefix) == 0;
}

void from_v6(const std::uint8_t* a, IpAddress& out) {
  if (is_v4_mapped(a)) {
    out.v6 = false;
    std::memcpy(out.bytes.data(), a + 12, 4);
  } else {
    out.v6 = true;
    std::memcpy(out.bytes.data(), a, 16);
  }
}

// Clears the bits of `a` beyond the first `prefix`.
void mask(IpAddress& a, int prefix) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(prefix - i * 8, 0, 8);
    a.bytes[static_cast<std::size_t>(i)] &= static_cast<std::uint8_t>(0xff00 >> keep);
  }
}

}  // namespace

bool IpAddress::parse(std::string_view text, IpAddress& out) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return false;
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    out = a;
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return false;
  from_v6(v6.s6_addr, a);
  out = a;
  return true;
}

bool IpAddress::of(const SocketAddress& address, IpAddress& out) {
  IpAddress a;
  if (address.family() == AF_INET) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(address.sa())->sin_addr, 4);
  } else if (address.family() == AF_INET6) {
    from_v6(reinterpret_cast<const sockaddr_in6*>(address.sa())->sin6_addr.s6_addr, a);
  } else {
    return false;
  }
  out = a;
  return true;
}

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

bool CidrSet::add(std::string_view text) {
  const auto slash = text.find('/');
  const std::string host(text.substr(0, slash));
  const bool v6_text = host.find(':') != std::string::npos;
  std::array<std::uint8_t, 16> raw{};
  if (inet_pton(v6_text ? AF_INET6 : AF_INET, host.c_str(), raw.data()) != 1) return false;
  const int bits = v6_text ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > bits) {
      return false;
    }
  }
  Network n;
  if (v6_text && is_v4_mapped(raw.data()) && prefix >= 96) {
    // "::ffff:10.0.0.0/104" is 10.0.0.0/8: mapped clients are held as IPv4.
    std::memcpy(n.base.bytes.data(), raw.data() + 12, 4);
    n.prefix = prefix - 96;
  } else {
    n.base.v6 = v6_text;
    n.base.bytes = raw;
    n.prefix = prefix;
  }
  mask(n.base, n.prefix);
  networks_.push_back(n);
  return true;
}

bool CidrSet::contains(const IpAddress& address) const {
  for (const auto& n : networks_) {
    if (n.base.v6 != address.v6) continue;
    IpAddress a = address;
    mask(a, n.prefix);
    if (a.bytes == n.base.bytes) return true;
  }
  return false;
}

}  // namespace sluice::middleware
