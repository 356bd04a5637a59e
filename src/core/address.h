// A socket address (IPv4 or IPv6) with parsing from "host:port" text.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sluice {

class SocketAddress {
 public:
  SocketAddress() = default;

  // Numeric forms only: "1.2.3.4:80", "[::1]:80", "*:80" / ":80" (any IPv4).
  static Result<SocketAddress> parse_numeric(std::string_view text);
  // Numeric forms, or a host name resolved now (blocking; for start-up and
  // reloads, never the data path). Prefers the first address returned.
  static Result<SocketAddress> resolve(std::string_view text);
  // Every address a host name has now, in getaddrinfo's order (blocking:
  // never on a worker's loop). See Lookup.
  struct Lookup;
  static Lookup look_up(std::string_view text);
  // The local or peer address of a connected or bound socket.
  static SocketAddress local_of(int fd);
  static SocketAddress peer_of(int fd);

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  void set_length(socklen_t n) { length_ = n; }
  int family() const { return storage_.ss_family; }
  std::uint16_t port() const;
  void set_port(std::uint16_t port);

  std::string host_string() const;  // "1.2.3.4" or "::1"
  std::string to_string() const;    // "1.2.3.4:80" or "[::1]:80"

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// What a name lookup found. `no_such_name` is the name system's answer
// (the name or its addresses do not exist); `failed` is no answer at all
// (no resolver reachable, a timeout), which says nothing about the name.
struct SocketAddress::Lookup {
  enum class Outcome : std::uint8_t { found, no_such_name, failed };
  Outcome outcome = Outcome::failed;
  std::vector<SocketAddress> addresses;  // with the port; when found
  std::string error;                     // why not, for a log line
};

// An IPv4 or IPv6 address in 28 bytes, not sockaddr_storage's 128: what a
// client connection keeps of the peer accept(2) named, so that no request
// asks the kernel again (getpeername). Other families are not kept.
class CompactAddress {
 public:
  CompactAddress() = default;
  explicit CompactAddress(const SocketAddress& a);
  bool empty() const { return in_.v4.sin_family == AF_UNSPEC; }
  SocketAddress expand() const;  // an empty SocketAddress when empty()

 private:
  union {
    sockaddr_in v4;
    sockaddr_in6 v6;
  } in_{};
};

// Splits "host:port" / "[v6]:port" into its parts; false if malformed.
bool split_host_port(std::string_view text, std::string_view& host, std::uint16_t& port);

}  // namespace sluice
