// A route's 'reproxy' block (docs/middlewares/reproxy.md): which response
// fields of its backend make sluice serve something else in the response's
// place (perlbal's X-Reproxy-URL, nginx's X-Accel-Redirect, X-Sendfile),
// and the targets it may fetch. Not a middleware kind: it acts on the
// backend's response inside the proxy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

// One allowed origin and path prefix of X-Reproxy-URL targets:
// "http://host[:port]/prefix". Everything else is refused (the SSRF guard).
struct ReproxyTarget {
  std::string host;         // lower case; an IPv6 literal without brackets
  std::uint16_t port = 80;  // the scheme's default when none is written
  std::string path_prefix;  // starts with '/'; "/" allows every path
  std::string text;         // as written, for logs
};

struct Reproxy {
  bool urls = false;            // X-Reproxy-URL is followed
  bool accel_redirect = false;  // X-Accel-Redirect is followed to an internal route
  // X-Reproxy-File / X-Sendfile are served from this directory (absolute);
  // absent: ignored.
  std::optional<std::string> files_root;
  std::vector<ReproxyTarget> allow;  // X-Reproxy-URL targets sluice may fetch
  bool check_size = true;            // honour X-Reproxy-Expected-Size
};

}  // namespace sluice::config
