// PROXY protocol headers (HAProxy's specification, v1 and v2), one row per
// rule. Every prefix of a header that parses must ask for more bytes, never
// succeed early or fail, since a connection may deliver it in any pieces.
#include "http/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::http {
namespace {

using namespace std::string_literals;

struct Row {
  const char* rule;
  std::string bytes;
  ProxyParse result;
  const char* source = "";  // "ip:port" as SocketAddress prints it, when complete
  const char* destination = "";
  bool local = false;
};

const std::string kV2Sig = "\r\n\r\n\0\r\nQUIT\n"s;

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"v1 TCP4", "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n", ProxyParse::complete,
       "192.0.2.1:51000", "198.51.100.2:443"},
      {"v1 TCP6", "PROXY TCP6 2001:db8::1 2001:db8::2 51000 443\r\n", ProxyParse::complete,
       "[2001:db8::1]:51000", "[2001:db8::2]:443"},
      {"v1 UNKNOWN ignores the rest of the line", "PROXY UNKNOWN whatever follows\r\n",
       ProxyParse::complete, "", "", true},
      {"v1 port 0", "PROXY TCP4 192.0.2.1 198.51.100.2 0 0\r\n", ProxyParse::complete,
       "192.0.2.1:0", "198.51.100.2:0"},
      {"v2 TCP4",
       kV2Sig + "\x21\x11\x00\x0c"s + "\xc0\x00\x02\x01"s + "\xc6\x33\x64\x02"s +
           "\xc7\x38\x01\xbb"s,
       ProxyParse::complete, "192.0.2.1:51000", "198.51.100.2:443"},
      {"v2 LOCAL", kV2Sig + "\x20\x00\x00\x00"s, ProxyParse::complete, "", "", true},
      {"v2 TCP4 with a TLV after the addresses",
       kV2Sig + "\x21\x11\x00\x0f"s + "\xc0\x00\x02\x01"s + "\xc6\x33\x64\x02"s +
           "\xc7\x38\x01\xbb"s + "\x04\x00\x00"s,
       ProxyParse::complete, "192.0.2.1:51000", "198.51.100.2:443"},
      // Rejected.
      {"v1 '*' is not an address", "PROXY TCP4 * 198.51.100.2 51000 443\r\n", ProxyParse::error},
      {"v1 empty source (two spaces)", "PROXY TCP4  198.51.100.2 51000 443\r\n", ProxyParse::error},
      {"v1 space after the last port", "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443 \r\n",
       ProxyParse::error},
      {"v1 a sixth field", "PROXY TCP4 192.0.2.1 198.51.100.2 51000 443 x\r\n", ProxyParse::error},
      {"v1 IPv6 address under TCP4", "PROXY TCP4 2001:db8::1 198.51.100.2 51000 443\r\n",
       ProxyParse::error},
      {"v1 IPv4 address under TCP6", "PROXY TCP6 192.0.2.1 2001:db8::2 51000 443\r\n",
       ProxyParse::error},
      {"v1 bracketed IPv6", "PROXY TCP6 [2001:db8::1] 2001:db8::2 51000 443\r\n",
       ProxyParse::error},
      {"v1 IPv4 with a leading zero", "PROXY TCP4 192.0.2.01 198.51.100.2 51000 443\r\n",
       ProxyParse::error},
      {"v1 port with a leading zero", "PROXY TCP4 192.0.2.1 198.51.100.2 051000 443\r\n",
       ProxyParse::error},
      {"v1 port above 65535", "PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n", ProxyParse::error},
      {"v1 unknown protocol", "PROXY UDP4 192.0.2.1 198.51.100.2 51000 443\r\n", ProxyParse::error},
      {"v1 line without CRLF past 107 bytes", "PROXY UNKNOWN " + std::string(100, 'x'),
       ProxyParse::error},
      {"v2 version 1", kV2Sig + "\x11\x11\x00\x0c"s + std::string(12, '\0'), ProxyParse::error},
      {"v2 command 2", kV2Sig + "\x22\x11\x00\x0c"s + std::string(12, '\0'), ProxyParse::error},
      {"v2 TCP4 too short for its addresses", kV2Sig + "\x21\x11\x00\x08"s + std::string(8, '\0'),
       ProxyParse::error},
      {"v2 UDP", kV2Sig + "\x21\x12\x00\x0c"s + std::string(12, '\0'), ProxyParse::error},
      {"not a PROXY header", "GET / HTTP/1.1\r\n\r\n", ProxyParse::error},
  };
  return r;
}

TEST(ProxyProtocolRules, EveryRuleRowAndEveryPrefix) {
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.rule);
    ProxyHeader h;
    std::size_t consumed = 0;
    const char* error = nullptr;
    const ProxyParse whole = parse_proxy_header(row.bytes, h, consumed, error);
    EXPECT_EQ(whole, row.result) << error;
    if (whole != row.result || whole != ProxyParse::complete) continue;
    EXPECT_EQ(consumed, row.bytes.size());
    EXPECT_EQ(h.local, row.local);
    if (!row.local) {
      EXPECT_EQ(h.source.to_string(), row.source);
      EXPECT_EQ(h.destination.to_string(), row.destination);
    }
    for (std::size_t n = 0; n < consumed; ++n) {
      ProxyHeader part;
      std::size_t used = 0;
      ASSERT_EQ(parse_proxy_header(std::string_view(row.bytes).substr(0, n), part, used, error),
                ProxyParse::need_more)
          << "prefix of " << n << " bytes";
    }
  }
}

TEST(ProxyProtocolRules, HeadersWeSendParseBackToTheSameAddresses) {
  for (const auto& [src, dst] : {std::pair{"192.0.2.1:51000", "198.51.100.2:443"},
                                 std::pair{"[2001:db8::1]:1", "[::1]:65535"}}) {
    const SocketAddress source = *SocketAddress::parse_numeric(src);
    const SocketAddress destination = *SocketAddress::parse_numeric(dst);
    for (const std::string& header :
         {make_proxy_header_v1(source, destination), make_proxy_header_v2(source, destination)}) {
      ProxyHeader h;
      std::size_t consumed = 0;
      const char* error = nullptr;
      ASSERT_EQ(parse_proxy_header(header + "GET", h, consumed, error), ProxyParse::complete)
          << error;
      EXPECT_EQ(consumed, header.size());
      EXPECT_FALSE(h.local);
      EXPECT_EQ(h.source.to_string(), src);
      EXPECT_EQ(h.destination.to_string(), dst);
    }
  }
}

}  // namespace
}  // namespace sluice::http
