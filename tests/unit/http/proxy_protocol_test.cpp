// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
// 2): what a listener takes from it, what it refuses, and that no prefix
// of a valid header is mistaken for a whole one or an error.
#include "http/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::http {
namespace {

SocketAddress address(const std::string& text) {
  auto a = SocketAddress::parse_numeric(text);
  EXPECT_TRUE(a) << text;
  return a ? *a : SocketAddress{};
}

struct Parsed {
  ProxyParse state = ProxyParse::error;
  ProxyHeader header;
  std::size_t consumed = 0;
  std::string error;
};

Parsed parse(const std::string& in) {
  Parsed p;
  const char* error = "";
  p.state = parse_proxy_header(in, p.header, p.consumed, error);
  p.error = error;
  return p;
}

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: version 2 and `command` (0 LOCAL, 1 PROXY), then `family`
// (0x11 TCP4, 0x21 TCP6, 0x00 UNSPEC) and the address block.
std::string v2(int command, int family, const std::string& block) {
  std::string h = kV2Signature;
  h += static_cast<char>(0x20 | command);
  h += static_cast<char>(family);
  h += static_cast<char>(block.size() >> 8);
  h += static_cast<char>(block.size() & 0xff);
  return h + block;
}

// 2001:db8::1 port 4242 to 2001:db8::2 port 443, as v2 writes them.
std::string tcp6_block() {
  std::string source(16, '\0'), destination(16, '\0');
  source[0] = destination[0] = '\x20';
  source[1] = destination[1] = '\x01';
  source[2] = destination[2] = '\x0d';
  source[3] = destination[3] = '\xb8';
  source[15] = '\x01';
  destination[15] = '\x02';
  return source + destination + std::string("\x10\x92\x01\xbb", 4);
}

// 192.0.2.1 port 5555 to 192.0.2.2 port 80.
std::string tcp4_block() {
  return std::string("\xc0\x00\x02\x01\xc0\x00\x02\x02\x15\xb3\x00\x50", 12);
}

TEST(ProxyProtocol, V1Tcp4NamesBothEndsAndStopsAtTheLine) {
  const std::string line = "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n";
  const Parsed p = parse(line + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(p.state, ProxyParse::complete) << p.error;
  EXPECT_FALSE(p.header.local);
  EXPECT_EQ(p.header.source, address("192.0.2.1:5555"));
  EXPECT_EQ(p.header.destination, address("192.0.2.2:80"));
  EXPECT_EQ(p.consumed, line.size());
}

TEST(ProxyProtocol, V1Tcp6NamesBothEnds) {
  const Parsed p = parse("PROXY TCP6 2001:db8::1 2001:db8::2 4242 443\r\n");
  ASSERT_EQ(p.state, ProxyParse::complete) << p.error;
  EXPECT_FALSE(p.header.local);
  EXPECT_EQ(p.header.source, address("[2001:db8::1]:4242"));
  EXPECT_EQ(p.header.destination, address("[2001:db8::2]:443"));
}

TEST(ProxyProtocol, V1UnknownKeepsTheConnectionsOwnAddresses) {
  // proxy-protocol.txt 2.1: UNKNOWN may carry anything up to the CRLF,
  // which the receiver ignores.
  for (const std::string& line :
       {std::string("PROXY UNKNOWN\r\n"), std::string("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")}) {
    const Parsed p = parse(line + "rest");
    ASSERT_EQ(p.state, ProxyParse::complete) << line;
    EXPECT_TRUE(p.header.local) << line;
    EXPECT_EQ(p.header.source.family(), AF_UNSPEC) << line;
    EXPECT_EQ(p.consumed, line.size()) << line;
  }
}

TEST(ProxyProtocol, V2Tcp6NamesBothEnds) {
  const std::string header = v2(1, 0x21, tcp6_block());
  const Parsed p = parse(header + "after");
  ASSERT_EQ(p.state, ProxyParse::complete) << p.error;
  EXPECT_FALSE(p.header.local);
  EXPECT_EQ(p.header.source, address("[2001:db8::1]:4242"));
  EXPECT_EQ(p.header.destination, address("[2001:db8::2]:443"));
  EXPECT_EQ(p.consumed, header.size());
}

TEST(ProxyProtocol, V2Tcp4WithTlvsSkipsThemToo) {
  // Type-length-value extensions follow the addresses inside the length
  // (proxy-protocol.txt 2.2.7): skipped, not taken for the first bytes of
  // the connection.
  const std::string tlv(
      "\x04\x00\x03"
      "abc",
      6);  // PP2_TYPE_NOOP, 3 bytes
  const std::string header = v2(1, 0x11, tcp4_block() + tlv);
  const Parsed p = parse(header + "GET");
  ASSERT_EQ(p.state, ProxyParse::complete) << p.error;
  EXPECT_EQ(p.header.source, address("192.0.2.1:5555"));
  EXPECT_EQ(p.header.destination, address("192.0.2.2:80"));
  EXPECT_EQ(p.consumed, header.size());
}

TEST(ProxyProtocol, V2LocalKeepsTheConnectionsOwnAddressesAndSkipsItsBlock) {
  // LOCAL: the proxy's own connection (a health check); any address block
  // it carries is ignored.
  for (const std::string& header : {v2(0, 0x00, ""), v2(0, 0x11, tcp4_block())}) {
    const Parsed p = parse(header + "x");
    ASSERT_EQ(p.state, ProxyParse::complete) << p.error;
    EXPECT_TRUE(p.header.local);
    EXPECT_EQ(p.header.source.family(), AF_UNSPEC);
    EXPECT_EQ(p.consumed, header.size());
  }
}

TEST(ProxyProtocol, V2ProxyWithUnspecifiedFamilyKeepsTheConnectionsOwnAddresses) {
  const Parsed p = parse(v2(1, 0x00, ""));
  ASSERT_EQ(p.state, ProxyParse::complete) << p.error;
  EXPECT_TRUE(p.header.local);
}

TEST(ProxyProtocol, EveryPrefixOfAValidHeaderNeedsMore) {
  const std::vector<std::string> headers = {
      "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n",
      "PROXY TCP6 2001:db8::1 2001:db8::2 4242 443\r\n",
      "PROXY UNKNOWN\r\n",
      v2(1, 0x11, tcp4_block()),
      v2(1, 0x21, tcp6_block()),
      v2(0, 0x00, ""),
  };
  for (const auto& header : headers) {
    for (std::size_t n = 0; n < header.size(); ++n) {
      const Parsed p = parse(header.substr(0, n));
      EXPECT_EQ(p.state, ProxyParse::need_more)
          << "first " << n << " bytes of " << header.size() << ": " << p.error;
    }
    const Parsed whole = parse(header);
    EXPECT_EQ(whole.state, ProxyParse::complete) << whole.error;
    EXPECT_EQ(whole.consumed, header.size());
  }
}

TEST(ProxyProtocol, MalformedHeadersAreRefused) {
  std::string tcp4_short = tcp4_block();
  tcp4_short.resize(11);
  std::string tcp6_short = tcp6_block();
  tcp6_short.resize(35);
  const std::vector<std::pair<const char*, std::string>> rows = {
      {"no header at all", "GET / HTTP/1.1\r\n\r\n"},
      {"v1 lower case", "proxy TCP4 192.0.2.1 192.0.2.2 5555 80\r\n"},
      {"v1 unknown protocol", "PROXY UDP4 192.0.2.1 192.0.2.2 5555 80\r\n"},
      {"v1 missing port", "PROXY TCP4 192.0.2.1 192.0.2.2 5555\r\n"},
      {"v1 extra field", "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80 9\r\n"},
      {"v1 double space", "PROXY TCP4  192.0.2.1 192.0.2.2 5555 80\r\n"},
      {"v1 port too large", "PROXY TCP4 192.0.2.1 192.0.2.2 65536 80\r\n"},
      {"v1 port with leading zero", "PROXY TCP4 192.0.2.1 192.0.2.2 05555 80\r\n"},
      {"v1 IPv6 address as TCP4", "PROXY TCP4 2001:db8::1 192.0.2.2 5555 80\r\n"},
      {"v1 IPv4 address as TCP6", "PROXY TCP6 192.0.2.1 2001:db8::2 5555 80\r\n"},
      {"v1 not an address", "PROXY TCP4 192.0.2.x 192.0.2.2 5555 80\r\n"},
      {"v1 line longer than 107 bytes", "PROXY UNKNOWN " + std::string(100, 'x') + "\r\n"},
      {"v1 no CRLF within 107 bytes",
       "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\n" + std::string(100, 'G')},
      {"v2 version 1",
       [] {
         std::string h = v2(1, 0x11, tcp4_block());
         h[12] = '\x11';
         return h;
       }()},
      {"v2 command 2", v2(2, 0x11, tcp4_block())},
      {"v2 UDP over IPv4", v2(1, 0x12, tcp4_block())},
      {"v2 unix socket", v2(1, 0x31, std::string(216, '\0'))},
      {"v2 TCP4 block too short", v2(1, 0x11, tcp4_short)},
      {"v2 TCP6 block too short", v2(1, 0x21, tcp6_short)},
  };
  for (const auto& [what, bytes] : rows) {
    const Parsed p = parse(bytes);
    EXPECT_EQ(p.state, ProxyParse::error) << what;
    EXPECT_FALSE(p.error.empty()) << what;
  }
}

TEST(ProxyProtocol, HeadersWeSendParseBackToTheSameAddresses) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"192.0.2.1:5555", "192.0.2.2:80"},
      {"[2001:db8::1]:4242", "[2001:db8::2]:443"},
  };
  for (const auto& [from, to] : pairs) {
    for (const std::string& header : {make_proxy_header_v1(address(from), address(to)),
                                      make_proxy_header_v2(address(from), address(to))}) {
      const Parsed p = parse(header);
      ASSERT_EQ(p.state, ProxyParse::complete) << from << " " << p.error;
      EXPECT_FALSE(p.header.local);
      EXPECT_EQ(p.header.source, address(from));
      EXPECT_EQ(p.header.destination, address(to));
      EXPECT_EQ(p.consumed, header.size());
    }
  }
  EXPECT_EQ(make_proxy_header_v1(address("192.0.2.1:5555"), address("192.0.2.2:80")),
            "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n");
  EXPECT_EQ(make_proxy_header_v2(address("[2001:db8::1]:4242"), address("[2001:db8::2]:443")),
            v2(1, 0x21, tcp6_block()));
  // Mixed families cannot be written as TCP4 or TCP6: the headers say so.
  const Parsed unknown =
      parse(make_proxy_header_v1(address("192.0.2.1:1"), address("[2001:db8::2]:2")));
  EXPECT_EQ(unknown.state, ProxyParse::complete);
  EXPECT_TRUE(unknown.header.local);
  const Parsed local =
      parse(make_proxy_header_v2(address("192.0.2.1:1"), address("[2001:db8::2]:2")));
  EXPECT_EQ(local.state, ProxyParse::complete);
  EXPECT_TRUE(local.header.local);
}

}  // namespace
}  // namespace sluice::http
