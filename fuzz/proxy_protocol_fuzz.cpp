// PROXY protocol headers: whatever the bytes, parsing never reads past the
// input, a complete header consumes no more than it was given, and parsing
// a prefix of a complete header never claims completion or an error that
// the whole header does not have.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/proxy_protocol.h"

using sluice::http::parse_proxy_header;
using sluice::http::ProxyHeader;
using sluice::http::ProxyParse;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ProxyHeader header;
  std::size_t consumed = 0;
  const char* error = nullptr;
  const ProxyParse whole = parse_proxy_header(in, header, consumed, error);
  if (whole == ProxyParse::complete && (consumed == 0 || consumed > size)) std::abort();
  if (whole == ProxyParse::complete) {
    // Any shorter prefix that still holds the header gives the same result.
    ProxyHeader again;
    std::size_t n = 0;
    if (parse_proxy_header(in.substr(0, consumed), again, n, error) != ProxyParse::complete ||
        n != consumed) {
      std::abort();
    }
  }
  return 0;
}
