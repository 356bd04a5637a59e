// The PROXY protocol (HAProxy's specification, versions 1 and 2): the
// header a load balancer in front of us sends before any byte of the
// connection, naming the real client, and the header we send to servers
// that ask for it. A connection-level codec shared by HTTP and TCP
// listeners; sans-I/O like the HTTP codec beside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/address.h"

namespace sluice::http {

struct ProxyHeader {
  bool local = false;  // v2 LOCAL / v1 UNKNOWN: no client address (health checks)
  SocketAddress source;
  SocketAddress destination;
};

enum class ProxyParse : std::uint8_t { need_more, complete, error };

// Parses a v1 or v2 header at the start of `in`. On `complete`, `consumed`
// is the header's length and `out` holds the addresses. v1 lines are at
// most 107 bytes, v2 headers at most 16 + 65535; anything else is an error.
ProxyParse parse_proxy_header(std::string_view in, ProxyHeader& out, std::size_t& consumed,
                              const char*& error);

// The header sent to a server: "PROXY TCP4 ..." (v1) or the binary form (v2).
std::string make_proxy_header_v1(const SocketAddress& source, const SocketAddress& destination);
std::string make_proxy_header_v2(const SocketAddress& source, const SocketAddress& destination);

}  // namespace sluice::http
