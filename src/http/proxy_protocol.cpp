#include "http/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace sluice::http {
namespace {

constexpr std::string_view kV1 = "PROXY ";
constexpr unsigned char kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                            0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t kV1MaxLine = 107;

bool parse_port(std::string_view s, std::uint16_t& port) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > 65535 || s.empty()) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

void set_v4(SocketAddress& a, const unsigned char* ip, const unsigned char* port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  std::memcpy(&sin.sin_addr, ip, 4);
  std::memcpy(&sin.sin_port, port, 2);
  std::memcpy(a.sa(), &sin, sizeof sin);
  a.set_length(sizeof sin);
}

void set_v6(SocketAddress& a, const unsigned char* ip, const unsigned char* port) {
  sockaddr_in6 sin{};
  sin.sin6_family = AF_INET6;
  std::memcpy(&sin.sin6_addr, ip, 16);
  std::memcpy(&sin.sin6_port, port, 2);
  std::memcpy(a.sa(), &sin, sizeof sin);
  a.set_length(sizeof sin);
}

// An address of exactly `family` in its textual form. Not a configuration
// address: "*" or an empty field is no client, not 0.0.0.0.
bool make_address(int family, std::string_view ip, std::uint16_t port, SocketAddress& out) {
  char text[INET6_ADDRSTRLEN];
  if (ip.empty() || ip.size() >= sizeof text) return false;
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';
  unsigned char bytes[16];
  if (inet_pton(family, text, bytes) != 1) return false;
  const unsigned char port_bytes[2] = {static_cast<unsigned char>(port >> 8),
                                       static_cast<unsigned char>(port & 0xFF)};
  if (family == AF_INET) {
    set_v4(out, bytes, port_bytes);
  } else {
    set_v6(out, bytes, port_bytes);
  }
  return true;
}

ProxyParse parse_v1(std::string_view in, ProxyHeader& out, std::size_t& consumed,
                    const char*& error) {
  const auto eol = in.find("\r\n");
  if (eol == std::string_view::npos) {
    if (in.size() >= kV1MaxLine) {
      error = "PROXY v1 line too long";
      return ProxyParse::error;
    }
    return ProxyParse::need_more;
  }
  if (eol + 2 > kV1MaxLine) {
    error = "PROXY v1 line too long";
    return ProxyParse::error;
  }
  // "PROXY" SP proto SP src SP dst SP sport SP dport CRLF: single spaces,
  // no empty field, nothing after the destination port; after UNKNOWN the
  // receiver ignores the rest of the line.
  std::string_view line = in.substr(kV1.size(), eol - kV1.size());
  std::string_view parts[5];
  int n = 0;
  bool more = !line.empty();
  while (more && n < 5) {
    const auto sp = line.find(' ');
    parts[n++] = line.substr(0, sp);
    more = sp != std::string_view::npos;
    line = more ? line.substr(sp + 1) : std::string_view();
  }
  consumed = eol + 2;
  if (n >= 1 && parts[0] == "UNKNOWN") {
    out.local = true;
    return ProxyParse::complete;
  }
  if (n != 5 || more) {
    error = "malformed PROXY v1 line";
    return ProxyParse::error;
  }
  const int family = parts[0] == "TCP4" ? AF_INET : parts[0] == "TCP6" ? AF_INET6 : 0;
  std::uint16_t sport = 0, dport = 0;
  if (family == 0 || !parse_port(parts[3], sport) || !parse_port(parts[4], dport) ||
      !make_address(family, parts[1], sport, out.source) ||
      !make_address(family, parts[2], dport, out.destination)) {
    error = "malformed PROXY v1 line";
    return ProxyParse::error;
  }
  return ProxyParse::complete;
}

ProxyParse parse_v2(std::string_view in, ProxyHeader& out, std::size_t& consumed,
                    const char*& error) {
  if (in.size() < 16) return ProxyParse::need_more;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const unsigned version = p[12] >> 4;
  const unsigned command = p[12] & 0x0F;
  const unsigned family = p[13];
  const std::size_t length = (static_cast<std::size_t>(p[14]) << 8) | p[15];
  if (version != 2 || command > 1) {
    error = "unsupported PROXY v2 version or command";
    return ProxyParse::error;
  }
  if (in.size() < 16 + length) return ProxyParse::need_more;
  consumed = 16 + length;
  if (command == 0) {  // LOCAL: the proxy's own connection
    out.local = true;
    return ProxyParse::complete;
  }
  const unsigned char* addr = p + 16;
  if (family == 0x11 && length >= 12) {  // TCP over IPv4
    set_v4(out.source, addr, addr + 8);
    set_v4(out.destination, addr + 4, addr + 10);
  } else if (family == 0x21 && length >= 36) {  // TCP over IPv6
    set_v6(out.source, addr, addr + 32);
    set_v6(out.destination, addr + 16, addr + 34);
  } else if (family == 0x00) {
    out.local = true;  // UNSPEC: keep the connection's own addresses
  } else {
    error = "unsupported PROXY v2 address family";
    return ProxyParse::error;
  }
  return ProxyParse::complete;
}

}  // namespace

ProxyParse parse_proxy_header(std::string_view in, ProxyHeader& out, std::size_t& consumed,
                              const char*& error) {
  out = ProxyHeader{};
  consumed = 0;
  error = "";
  const std::size_t v1_check = std::min(in.size(), kV1.size());
  if (in.substr(0, v1_check) == kV1.substr(0, v1_check)) {
    if (in.size() < kV1.size()) return ProxyParse::need_more;
    return parse_v1(in, out, consumed, error);
  }
  const std::size_t v2_check = std::min(in.size(), sizeof kV2Signature);
  if (std::memcmp(in.data(), kV2Signature, v2_check) == 0) {
    return parse_v2(in, out, consumed, error);
  }
  error = "the connection did not start with a PROXY protocol header";
  return ProxyParse::error;
}

std::string make_proxy_header_v1(const SocketAddress& source, const SocketAddress& destination) {
  if (source.family() != destination.family() ||
      (source.family() != AF_INET && source.family() != AF_INET6)) {
    return "PROXY UNKNOWN\r\n";
  }
  return std::string("PROXY ") + (source.family() == AF_INET ? "TCP4 " : "TCP6 ") +
         source.host_string() + " " + destination.host_string() + " " +
         std::to_string(source.port()) + " " + std::to_string(destination.port()) + "\r\n";
}

std::string make_proxy_header_v2(const SocketAddress& source, const SocketAddress& destination) {
  std::string out(reinterpret_cast<const char*>(kV2Signature), sizeof kV2Signature);
  const bool v4 = source.family() == AF_INET && destination.family() == AF_INET;
  const bool v6 = source.family() == AF_INET6 && destination.family() == AF_INET6;
  if (!v4 && !v6) {
    out += '\x20';  // LOCAL
    out += '\x00';
    out += std::string("\x00\x00", 2);
    return out;
  }
  out += '\x21';  // version 2, PROXY
  out += v4 ? '\x11' : '\x21';
  const std::size_t len = v4 ? 12 : 36;
  out += static_cast<char>(len >> 8);
  out += static_cast<char>(len & 0xFF);
  auto append_ip = [&](const SocketAddress& a) {
    if (v4) {
      const auto* s = reinterpret_cast<const sockaddr_in*>(a.sa());
      out.append(reinterpret_cast<const char*>(&s->sin_addr), 4);
    } else {
      const auto* s = reinterpret_cast<const sockaddr_in6*>(a.sa());
      out.append(reinterpret_cast<const char*>(&s->sin6_addr), 16);
    }
  };
  append_ip(source);
  append_ip(destination);
  const std::uint16_t sport = htons(source.port());
  const std::uint16_t dport = htons(destination.port());
  out.append(reinterpret_cast<const char*>(&sport), 2);
  out.append(reinterpret_cast<const char*>(&dport), 2);
  return out;
}

}  // namespace sluice::http
