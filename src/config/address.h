// Addresses as written in the configuration: "host:port", "[v6]:port",
// "*:port", and networks such as "10.0.0.0/8". Syntax only: host names are
// resolved later, by whoever connects or binds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::config {

// Listeners may bind any address ("*" or an empty host) and port 0 (the
// kernel picks one); servers need a host and a port from 1.
enum class AddressUse { listen, server };

struct HostPort {
  std::string host;  // without brackets; "" when any address
  std::uint16_t port = 0;
  bool any_host = false;  // "*:port" or ":port"
};

// Parses `text` for `use`. On failure returns false and sets `why` to a short
// reason for a message ("port 70000 is out of range 0..65535").
bool parse_address(std::string_view text, AddressUse use, HostPort& out, std::string& why);

// "10.0.0.0/8", "::1/128", or a single address ("192.0.2.7").
bool valid_cidr(std::string_view text);

// A DNS name or an IPv4 literal: letters, digits, '-', '_' and '.', in
// labels of at most 63 characters.
bool valid_host_name(std::string_view host);

// A host that only this machine can reach: 127.0.0.0/8, ::1, an IPv4-mapped
// loopback address, or "localhost". "" (any address) is not.
bool is_loopback_host(std::string_view host);

}  // namespace sluice::config
