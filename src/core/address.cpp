#include "core/address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace sluice {

bool split_host_port(std::string_view text, std::string_view& host, std::uint16_t& port) {
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return false;  // bare v6 needs brackets
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || value > 65535) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

Result<SocketAddress> SocketAddress::parse_numeric(std::string_view text) {
  std::string_view host;
  std::uint16_t port = 0;
  if (!split_host_port(text, host, port)) return Errc::invalid;
  SocketAddress a;
  std::string h(host);
  if (h.empty() || h == "*") h = "0.0.0.0";
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length_ = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length_ = sizeof(sockaddr_in6);
    return a;
  }
  return Errc::invalid;
}

Result<SocketAddress> SocketAddress::resolve(std::string_view text) {
  if (auto numeric = parse_numeric(text)) return numeric;
  std::string_view host;
  std::uint16_t port = 0;
  if (!split_host_port(text, host, port)) return Errc::invalid;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string h(host);
  if (getaddrinfo(h.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return Errc::invalid;
  SocketAddress a;
  std::memcpy(&a.storage_, res->ai_addr, res->ai_addrlen);
  a.length_ = res->ai_addrlen;
  freeaddrinfo(res);
  a.set_port(port);
  return a;
}

SocketAddress::Lookup SocketAddress::look_up(std::string_view text) {
  Lookup found;
  if (auto numeric = parse_numeric(text)) {
    found.outcome = Lookup::Outcome::found;
    found.addresses.push_back(*numeric);
    return found;
  }
  std::string_view host;
  std::uint16_t port = 0;
  if (!split_host_port(text, host, port)) {
    found.outcome = Lookup::Outcome::no_such_name;
    found.error = "not host:port";
    return found;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const std::string h(host);
  const int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    found.outcome = rc == EAI_NONAME || rc == EAI_NODATA ? Lookup::Outcome::no_such_name
                                                         : Lookup::Outcome::failed;
    found.error = gai_strerror(rc);
    return found;
  }
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress a;
    std::memcpy(&a.storage_, ai->ai_addr, ai->ai_addrlen);
    a.length_ = ai->ai_addrlen;
    a.set_port(port);
    if (std::find(found.addresses.begin(), found.addresses.end(), a) == found.addresses.end()) {
      found.addresses.push_back(a);
    }
  }
  freeaddrinfo(res);
  found.outcome = found.addresses.empty() ? Lookup::Outcome::no_such_name : Lookup::Outcome::found;
  return found;
}

SocketAddress SocketAddress::local_of(int fd) {
  SocketAddress a;
  a.length_ = sizeof a.storage_;
  if (getsockname(fd, a.sa(), &a.length_) != 0) a.length_ = 0;
  return a;
}

CompactAddress::CompactAddress(const SocketAddress& a) {
  if (a.family() == AF_INET && a.length() >= sizeof(sockaddr_in)) {
    std::memcpy(&in_.v4, a.sa(), sizeof(sockaddr_in));
  } else if (a.family() == AF_INET6 && a.length() >= sizeof(sockaddr_in6)) {
    std::memcpy(&in_.v6, a.sa(), sizeof(sockaddr_in6));
  }
}

SocketAddress CompactAddress::expand() const {
  SocketAddress a;
  if (in_.v4.sin_family == AF_INET) {
    std::memcpy(a.sa(), &in_.v4, sizeof(sockaddr_in));
    a.set_length(sizeof(sockaddr_in));
  } else if (in_.v6.sin6_family == AF_INET6) {
    std::memcpy(a.sa(), &in_.v6, sizeof(sockaddr_in6));
    a.set_length(sizeof(sockaddr_in6));
  }
  return a;
}

SocketAddress SocketAddress::peer_of(int fd) {
  SocketAddress a;
  a.length_ = sizeof a.storage_;
  if (getpeername(fd, a.sa(), &a.length_) != 0) a.length_ = 0;
  return a;
}

std::uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

void SocketAddress::set_port(std::uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string SocketAddress::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
  }
  return buf;
}

std::string SocketAddress::to_string() const {
  if (family() == AF_INET6) return "[" + host_string() + "]:" + std::to_string(port());
  return host_string() + ":" + std::to_string(port());
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
}

}  // namespace sluice
