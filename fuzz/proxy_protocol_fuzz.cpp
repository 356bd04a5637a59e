// PROXY protocol headers: whatever the bytes, parsing never reads past the
// input; a complete header consumes no more than it was given, names two
// addresses of one family (or none), and parses back to the same addresses
// from the headers we write ourselves; and every shorter prefix of it asks
// for more bytes instead of claiming completion or an error.
#include <sys/socket.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "http/proxy_protocol.h"

using sluice::SocketAddress;
using sluice::http::make_proxy_header_v1;
using sluice::http::make_proxy_header_v2;
using sluice::http::parse_proxy_header;
using sluice::http::ProxyHeader;
using sluice::http::ProxyParse;

namespace {

bool same(const SocketAddress& a, const SocketAddress& b) {
  return a.family() == b.family() && a.to_string() == b.to_string();
}

// The header we would send for `h` must parse back to `h`'s addresses.
void check_round_trip(const ProxyHeader& h, const std::string& header) {
  ProxyHeader again;
  std::size_t consumed = 0;
  const char* error = nullptr;
  if (parse_proxy_header(header, again, consumed, error) != ProxyParse::complete ||
      consumed != header.size() || again.local || !same(again.source, h.source) ||
      !same(again.destination, h.destination)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ProxyHeader header;
  std::size_t consumed = 0;
  const char* error = nullptr;
  const ProxyParse whole = parse_proxy_header(in, header, consumed, error);
  if (whole == ProxyParse::error && (error == nullptr || *error == '\0')) std::abort();
  if (whole != ProxyParse::complete) return 0;
  if (consumed == 0 || consumed > size) std::abort();
  if (!header.local) {
    const int family = header.source.family();
    if ((family != AF_INET && family != AF_INET6) || header.destination.family() != family) {
      std::abort();
    }
    check_round_trip(header, make_proxy_header_v1(header.source, header.destination));
    check_round_trip(header, make_proxy_header_v2(header.source, header.destination));
  }
  // The header alone gives the same result; any shorter prefix needs more.
  ProxyHeader again;
  std::size_t n = 0;
  if (parse_proxy_header(in.substr(0, consumed), again, n, error) != ProxyParse::complete ||
      n != consumed) {
    std::abort();
  }
  for (std::size_t k = 0; k < consumed; ++k) {
    if (parse_proxy_header(in.substr(0, k), again, n, error) != ProxyParse::need_more) std::abort();
  }
  return 0;
}
