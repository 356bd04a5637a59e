// The 'forward_auth' middleware's settings (docs/middlewares/forward_auth.md):
// every request is first asked of an auth server; a 2xx lets it through,
// anything else goes back to the client as the auth server sent it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

// TLS towards the auth server (an https address).
struct ForwardAuthTls {
  bool verify = true;  // check the server's chain and name
  std::string ca;      // PEM file of trusted CAs (resolved path); empty: the system's
  // Server name sent and verified; absent: the address's host name (an IP
  // literal is verified as an address and sends no SNI).
  std::optional<std::string> sni;
};

// The decision cache: answers remembered per key, so that repeated
// requests of one user skip the auth server.
struct ForwardAuthCache {
  // What a decision is remembered by, besides the request's host: request
  // field names (values compared exactly), or "$method" / "$uri".
  std::vector<std::string> key{"Cookie", "Authorization"};
  std::chrono::milliseconds allow_ttl{30'000};  // without Cache-Control max-age
  std::chrono::milliseconds deny_ttl{5'000};    // 0: denies are never cached
  std::uint32_t max_entries = 10'000;           // beyond, the oldest goes
};

enum class ForwardAuthOnError { deny, allow };

struct ForwardAuth {
  // The address as written, and its parts.
  std::string address;
  bool https = false;
  std::string host;  // a name or an IP literal (no brackets)
  std::uint16_t port = 0;
  std::string path = "/";  // origin-form, query included

  std::optional<ForwardAuthTls> tls;  // with https (defaults when absent)
  // The client's fields sent to the auth server: absent: all but hop-by-hop
  // and framing fields; else only these names.
  std::optional<std::vector<std::string>> request_headers;
  // Fields of a 2xx answer set on the forwarded request: names, or a prefix
  // ending in '*' ("X-Auth-*").
  std::vector<std::string> copy_headers;
  // And fields whose names match this RE2 pattern (case-insensitive,
  // unanchored: "^X-Auth-(User|Groups)$"); empty: none.
  std::string copy_headers_regex;
  std::chrono::milliseconds timeout{5'000};  // the whole auth exchange
  ForwardAuthOnError on_error = ForwardAuthOnError::deny;
  std::uint32_t max_idle = 32;                  // idle connections kept per worker
  std::uint64_t max_response_body = 64 * 1024;  // a denial's body, relayed whole
  std::uint64_t forward_body_max = 0;           // 0: the body is not sent
  std::optional<ForwardAuthCache> cache;        // absent: every request asks
};

}  // namespace sluice::config
