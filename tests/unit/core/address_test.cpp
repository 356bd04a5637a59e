#include "core/address.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(SocketAddress, ParsesIpv4AndIpv6) {
  auto a = SocketAddress::parse_numeric("127.0.0.1:8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family(), AF_INET);
  EXPECT_EQ(a->port(), 8080);
  EXPECT_EQ(a->to_string(), "127.0.0.1:8080");
  auto b = SocketAddress::parse_numeric("[::1]:443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->family(), AF_INET6);
  EXPECT_EQ(b->to_string(), "[::1]:443");
  auto any = SocketAddress::parse_numeric("*:0");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->to_string(), "0.0.0.0:0");
}

TEST(SocketAddress, RejectsMalformedText) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80", "[::1]80",
                          "1.2.3.4:8x", "nohost.invalid:80"}) {
    EXPECT_FALSE(SocketAddress::parse_numeric(bad)) << bad;
  }
}

TEST(SocketAddress, ResolvesLocalhost) {
  auto a = SocketAddress::resolve("localhost:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port(), 80);
}

}  // namespace
}  // namespace sluice
