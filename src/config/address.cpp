#include "config/address.h"

#include <arpa/inet.h>

#include <charconv>

namespace sluice::config {
namespace {

bool is_v4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_v6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

}  // namespace

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;  // empty label: "a..b" or ".a"
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return true;  // a trailing dot (fully qualified) is fine
}

bool is_loopback_host(std::string_view host) {
  std::string h(host);
  for (char& c : h)
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  if (h == "localhost" || h == "localhost.") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

namespace {

// An address split at the ':' before its port.
struct AddressParts {
  std::string_view host;  // without brackets
  std::string_view port;
  bool bracketed = false;  // "[v6]:port"
};

bool split_address(std::string_view text, AddressUse use, AddressParts& out, std::string& why) {
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      why = "missing ']' after the IPv6 address";
      return false;
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      why = "missing ':port' after ']'";
      return false;
    }
    out = AddressParts{text.substr(1, close - 1), text.substr(close + 2), true};
    return true;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    const bool digits =
        !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
    why = digits && use == AddressUse::listen
              ? "a port alone is ambiguous: write *:" + std::string(text) +
                    " for every address or 127.0.0.1:" + std::string(text) + " for loopback"
              : "missing ':port'";
    return false;
  }
  out = AddressParts{text.substr(0, colon), text.substr(colon + 1), false};
  if (out.host.find(':') != std::string_view::npos) {
    why = "an IPv6 address needs brackets, as in [::1]:8080";
    return false;
  }
  return true;
}

// Listeners may use port 0 (the kernel picks one); servers may not.
bool parse_port(std::string_view text, AddressUse use, std::uint16_t& out, std::string& why) {
  const int min_port = use == AddressUse::listen ? 0 : 1;
  unsigned long port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    why = "the port must be a number";
    return false;
  }
  if (ec == std::errc::result_out_of_range || port > 65535 ||
      port < static_cast<unsigned>(min_port)) {
    why = "port " + std::string(text) + " is out of range " + std::to_string(min_port) + "..65535";
    return false;
  }
  out = static_cast<std::uint16_t>(port);
  return true;
}

}  // namespace

bool parse_address(std::string_view text, AddressUse use, HostPort& out, std::string& why) {
  AddressParts parts;
  std::uint16_t port = 0;
  if (!split_address(text, use, parts, why) || !parse_port(parts.port, use, port, why)) {
    return false;
  }
  const std::string h(parts.host);
  if (parts.bracketed) {
    if (!is_v6(h)) {
      why = "the part in brackets is not an IPv6 address";
      return false;
    }
  } else if (h.empty() || h == "*") {
    if (use == AddressUse::server) {
      why = "a server needs a host";
      return false;
    }
    out = HostPort{"", port, true};
    return true;
  } else if (!is_v4(h) && !valid_host_name(h)) {
    why = "the host is not a valid host name or IPv4 address";
    return false;
  }
  out = HostPort{h, port, false};
  return true;
}

bool valid_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  int max_prefix = 0;
  if (is_v4(addr)) {
    max_prefix = 32;
  } else if (is_v6(addr)) {
    max_prefix = 128;
  } else {
    return false;
  }
  if (slash == std::string_view::npos) return true;
  const std::string_view p = text.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  return !p.empty() && ec == std::errc{} && end == p.data() + p.size() && prefix >= 0 &&
         prefix <= max_prefix;
}

}  // namespace sluice::config
