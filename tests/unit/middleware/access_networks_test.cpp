// The access middleware's address side: which networks match which
// addresses (IPv4, IPv6, IPv4-mapped), and which client X-Forwarded-For
// yields from trusted and untrusted peers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/address.h"
#include "middleware/cidr_set.h"
#include "middleware/client_address.h"

namespace sluice::middleware {
namespace {

IpAddress ip(const std::string& text) {
  IpAddress a;
  EXPECT_TRUE(IpAddress::parse(text, a)) << text;
  return a;
}

CidrSet set_of(const std::vector<std::string>& networks) {
  CidrSet s;
  for (const auto& n : networks)
    EXPECT_TRUE(s.add(n)) << n;
  return s;
}

SocketAddress peer(const std::string& text) {
  auto a = SocketAddress::parse_numeric(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : SocketAddress{};
}

TEST(CidrSet, MatchesAddressesInsideItsPrefixesOnly) {
  const CidrSet s = set_of({"10.0.0.0/8", "192.0.2.7", "172.16.0.0/12", "2001:db8::/32"});
  EXPECT_TRUE(s.contains(ip("10.255.1.2")));
  EXPECT_FALSE(s.contains(ip("11.0.0.1")));
  EXPECT_TRUE(s.contains(ip("192.0.2.7")));
  EXPECT_FALSE(s.contains(ip("192.0.2.8")));
  EXPECT_TRUE(s.contains(ip("172.31.255.255")));
  EXPECT_FALSE(s.contains(ip("172.32.0.0")));
  EXPECT_TRUE(s.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(s.contains(ip("2001:db9::1")));
}

TEST(CidrSet, HostBitsInTheNetworkAreIgnored) {
  const CidrSet s = set_of({"10.1.2.3/8", "2001:db8::5/120"});
  EXPECT_TRUE(s.contains(ip("10.9.9.9")));
  EXPECT_TRUE(s.contains(ip("2001:db8::ff")));
  EXPECT_FALSE(s.contains(ip("2001:db8::1:0")));
}

TEST(CidrSet, ZeroPrefixMatchesEveryAddressOfItsFamilyOnly) {
  const CidrSet v4 = set_of({"0.0.0.0/0"});
  EXPECT_TRUE(v4.contains(ip("203.0.113.1")));
  EXPECT_FALSE(v4.contains(ip("::1")));
  const CidrSet v6 = set_of({"::/0"});
  EXPECT_TRUE(v6.contains(ip("::1")));
  EXPECT_FALSE(v6.contains(ip("203.0.113.1")));
}

// A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d: an IPv4
// deny rule must still catch it.
TEST(CidrSet, IPv4NetworksMatchIPv4MappedClients) {
  const CidrSet s = set_of({"127.0.0.0/8"});
  EXPECT_TRUE(s.contains(ip("::ffff:127.0.0.1")));
  const CidrSet mapped = set_of({"::ffff:10.0.0.0/104"});
  EXPECT_TRUE(mapped.contains(ip("10.2.3.4")));
  EXPECT_FALSE(mapped.contains(ip("11.2.3.4")));
}

TEST(CidrSet, RefusesWhatIsNotANetwork) {
  CidrSet s;
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/x",
                          "host.example", "10.0.0.0/8/8", "[::1]"}) {
    EXPECT_FALSE(s.add(bad)) << bad;
  }
  EXPECT_TRUE(s.empty());
}

std::vector<http::HeaderField> xff(std::vector<std::string_view> values) {
  std::vector<http::HeaderField> out;
  for (auto v : values)
    out.push_back({"X-Forwarded-For", v});
  return out;
}

IpAddress client_of(const std::string& from, const std::vector<http::HeaderField>& fields,
                    const CidrSet& trusted) {
  IpAddress out;
  EXPECT_TRUE(client_address(peer(from), fields, trusted, out));
  return out;
}

TEST(ClientAddress, AnUntrustedPeerIsTheClientWhateverItsForwardedFor) {
  const CidrSet trusted = set_of({"10.0.0.0/8"});
  EXPECT_EQ(client_of("203.0.113.9:1000", xff({"10.0.0.1"}), trusted).to_string(), "203.0.113.9");
  EXPECT_EQ(client_of("203.0.113.9:1000", xff({"198.51.100.1"}), CidrSet{}).to_string(),
            "203.0.113.9");
}

TEST(ClientAddress, ATrustedPeerNamesTheClientInTheRightMostEntry) {
  const CidrSet trusted = set_of({"10.0.0.0/8"});
  EXPECT_EQ(client_of("10.0.0.2:1000", xff({"198.51.100.1"}), trusted).to_string(), "198.51.100.1");
}

// A client that writes X-Forwarded-For itself only adds entries to the
// left of what the trusted proxies append: they are never reached.
TEST(ClientAddress, EntriesAClientPrependedAreNeverRead) {
  const CidrSet trusted = set_of({"10.0.0.0/8"});
  EXPECT_EQ(
      client_of("10.0.0.2:1000", xff({"127.0.0.1, 10.0.0.5, 198.51.100.1"}), trusted).to_string(),
      "198.51.100.1");
  // Even one that names a trusted proxy to look like one hop more.
  EXPECT_EQ(
      client_of("10.0.0.2:1000", xff({"1.1.1.1", "10.9.9.9", "198.51.100.1, 10.0.0.3"}), trusted)
          .to_string(),
      "198.51.100.1");
}

TEST(ClientAddress, TrustedHopsAreSkippedAcrossSeveralFields) {
  const CidrSet trusted = set_of({"10.0.0.0/8", "2001:db8::/32"});
  EXPECT_EQ(client_of("10.0.0.2:1000", xff({"2001:db9::7", "2001:db8::1 , 10.1.1.1"}), trusted)
                .to_string(),
            "2001:db9::7");
}

TEST(ClientAddress, WhenEveryEntryIsTrustedTheLeftMostIsTheClient) {
  const CidrSet trusted = set_of({"10.0.0.0/8"});
  EXPECT_EQ(client_of("10.0.0.2:1000", xff({"10.0.0.7, 10.0.0.8"}), trusted).to_string(),
            "10.0.0.7");
  EXPECT_EQ(client_of("10.0.0.2:1000", {}, trusted).to_string(), "10.0.0.2");
}

// A trusted proxy wrote something other than an address where the client
// should be: the client is hidden, and the caller fails closed.
TEST(ClientAddress, AMalformedEntryBeforeTheClientMakesItUnknown) {
  const CidrSet trusted = set_of({"10.0.0.0/8"});
  IpAddress out;
  for (std::string_view bad : {"unknown", "198.51.100.1:443", "", "[2001:db8::1]", "junk, "}) {
    EXPECT_FALSE(client_address(peer("10.0.0.2:1000"), xff({bad}), trusted, out)) << bad;
  }
  // Left of the client, junk is never read.
  EXPECT_EQ(client_of("10.0.0.2:1000", xff({"junk, 198.51.100.1"}), trusted).to_string(),
            "198.51.100.1");
}

}  // namespace
}  // namespace sluice::middleware
