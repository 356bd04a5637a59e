#include "config/address.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config {
namespace {

struct Row {
  std::string text;
  AddressUse use;
  bool ok;
  std::string host = "";
  int port = 0;
  std::string why_contains = "";
};

TEST(ConfigAddress, ParsesAndRejects) {
  const auto L = AddressUse::listen;
  const auto S = AddressUse::server;
  const Row rows[] = {
      {"127.0.0.1:8080", L, true, "127.0.0.1", 8080},
      {"0.0.0.0:80", L, true, "0.0.0.0", 80},
      {"*:8080", L, true, "", 8080},
      {":8080", L, true, "", 8080},
      {"127.0.0.1:0", L, true, "127.0.0.1", 0},  // the kernel picks the port
      {"[::1]:443", L, true, "::1", 443},
      {"[::]:0", L, true, "::", 0},
      {"localhost:65535", L, true, "localhost", 65535},
      {"10.0.0.1:8080", S, true, "10.0.0.1", 8080},
      {"app-1.internal:9000", S, true, "app-1.internal", 9000},
      {"[2001:db8::1]:1", S, true, "2001:db8::1", 1},
      {"127.0.0.1:0", S, false, "", 0, "out of range 1..65535"},
      {"127.0.0.1:65536", L, false, "", 0, "out of range 0..65535"},
      {"127.0.0.1:99999999999999999999", L, false, "", 0, "out of range"},
      {"127.0.0.1", L, false, "", 0, "missing ':port'"},
      {"8080", L, false, "", 0, "write *:8080 for every address"},
      {"127.0.0.1:", L, false, "", 0, "must be a number"},
      {"127.0.0.1:http", L, false, "", 0, "must be a number"},
      {"::1:80", L, false, "", 0, "brackets"},
      {"[::1]80", L, false, "", 0, "missing ':port'"},
      {"[::1:80", L, false, "", 0, "missing ']'"},
      {"[1.2.3.4]:80", L, false, "", 0, "not an IPv6 address"},
      {"*:80", S, false, "", 0, "needs a host"},
      {"bad host:80", S, false, "", 0, "not a valid host"},
      {"a..b:80", S, false, "", 0, "not a valid host"},
  };
  for (const auto& row : rows) {
    HostPort hp;
    std::string why;
    const bool ok = parse_address(row.text, row.use, hp, why);
    EXPECT_EQ(ok, row.ok) << row.text << ": " << why;
    if (ok && row.ok) {
      EXPECT_EQ(hp.host, row.host) << row.text;
      EXPECT_EQ(hp.port, row.port) << row.text;
    } else if (!ok) {
      EXPECT_NE(why.find(row.why_contains), std::string::npos) << row.text << ": " << why;
    }
  }
}

TEST(ConfigAddress, Cidrs) {
  for (const char* good : {"127.0.0.0/8", "10.0.0.0/8", "0.0.0.0/0", "192.0.2.7", "::1/128",
                           "fd00::/8", "2001:db8::/32", "::/0"}) {
    EXPECT_TRUE(valid_cidr(good)) << good;
  }
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::1/129", "10.0.0.0/-1",
                          "10.0.0/8", "example.com/8", "10.0.0.0/8x", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(valid_cidr(bad)) << bad;
  }
}

}  // namespace
}  // namespace sluice::config
