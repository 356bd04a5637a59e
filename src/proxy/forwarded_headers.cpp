#include "proxy/forwarded_headers.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include "core/address.h"

namespace sluice::proxy {

bool Network::parse(std::string_view text, Network& out) {
  const auto slash = text.find('/');
  std::string host(text.substr(0, slash));
  Network n;
  if (inet_pton(AF_INET, host.c_str(), n.bytes.data()) == 1) {
    n.family = AF_INET;
    n.prefix = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), n.bytes.data()) == 1) {
    n.family = AF_INET6;
    n.prefix = 128;
  } else {
    return false;
  }
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > n.prefix) {
      return false;
    }
    n.prefix = prefix;
  }
  out = n;
  return true;
}

bool Network::contains(const SocketAddress& addr) const {
  const std::uint8_t* in = nullptr;
  if (addr.family() == AF_INET && family == AF_INET) {
    in = reinterpret_cast<const std::uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(addr.sa())->sin_addr);
  } else if (addr.family() == AF_INET6 && family == AF_INET6) {
    in = reinterpret_cast<const sockaddr_in6*>(addr.sa())->sin6_addr.s6_addr;
  } else {
    return false;
  }
  const int whole = prefix / 8;
  if (std::memcmp(in, bytes.data(), static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (in[whole] & mask) == (bytes[whole] & mask);
}

bool ForwardedPolicy::applies_to(const SocketAddress& client) const {
  for (const auto& n : except) {
    if (n.contains(client)) return false;
  }
  return true;
}

}  // namespace sluice::proxy
