// Who may use the admin listener. POST /config replaces the whole running
// configuration, and an operator's browser can be made to send requests
// to it from any web page, so every request passes these checks before its
// body is read, in this order:
//   1. Host names this listener: its address as the client reached it,
//      localhost, or one of admin.names (else 421). A DNS-rebound page
//      reaches 127.0.0.1 under its own name, and says so in Host.
//   2. Origin, when sent, is this listener's own (else 403): a script or
//      a form on another site.
//   3. Authorization carries the bearer token, when one is configured, for
//      anything but GET and HEAD, and for every request when the listener
//      is not on loopback (else 401).
//   4. POST /config says its body is YAML or JSON, or says nothing (else
//      415): a browser posts text/plain and form types cross-site without
//      asking first, and each of those requests carries an Origin.
//   5. A Content-Length is within admin.max_body (else 413). A chunked
//      body is counted as it arrives (admin_server.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/endpoints.h"

namespace sluice {
class SocketAddress;
namespace config {
struct Admin;
}
namespace http {
struct RequestHead;
}
}  // namespace sluice

namespace sluice::admin {

// The admin block of the configuration in force, as the listener uses it.
struct AdminPolicy {
  std::string token;               // "": none configured
  bool loopback = true;            // admin.listen is a loopback address
  std::vector<std::string> names;  // more Host values: "name" or "name:port", lower case
  std::uint64_t max_body = 4 * 1024 * 1024;
  std::size_t max_connections = 64;
  std::uint64_t request_timeout_ms = 10'000;

  static AdminPolicy from(const config::Admin& admin);

  // Whether a connection may stay, `open` counting it with the others.
  bool admits_connection(std::size_t open) const { return open <= max_connections; }
};

// A request turned away: what the client gets, and why, for the log.
struct Refusal {
  AdminResponse response;
  std::string why;
};

// Checks 1 to 5 above. `local`: the connection's own address (the one the
// client reached). The head's fields must still be readable.
std::optional<Refusal> check_access(const AdminPolicy& policy, const http::RequestHead& head,
                                    const SocketAddress& local);

// Compares in a time that depends on the lengths only, never on where the
// first difference is, so timing the answers cannot reveal the token.
bool tokens_equal(std::string_view given, std::string_view expected);

}  // namespace sluice::admin
