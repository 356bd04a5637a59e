// Which requests land together: the key `balance: hash` places on its ring
// (equal keys, one server; kNoKey, spread at random) and the server a sticky
// cookie names. Requests are raw client bytes parsed as the proxy parses
// them.
#include "proxy/request_affinity.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "balance/balancer.h"
#include "core/address.h"
#include "http/parser.h"
#include "proxy/backend.h"

namespace sluice::proxy {
namespace {

constexpr std::uint64_t kNoKey = balance::Balancer::kNoKey;

// A parsed request that keeps its bytes and fields alive.
class Request {
 public:
  explicit Request(std::string fields, std::string target = "/")
      : bytes_("GET " + target + " HTTP/1.1\r\nHost: example.com\r\n" + fields + "\r\n"),
        parser_({}, std::span<http::HeaderField>(storage_)) {
    EXPECT_EQ(parser_.parse(bytes_), http::ParseState::complete) << bytes_;
  }
  const http::RequestHead& head() const { return parser_.head(); }

 private:
  std::string bytes_;
  std::array<http::HeaderField, 100> storage_;
  http::RequestParser parser_;
};

SocketAddress client(std::string_view text) {
  auto a = SocketAddress::parse_numeric(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? a.value() : SocketAddress{};
}

Backend hashing(HashSource source, std::string name = {}) {
  Backend b;
  b.name = "app";
  b.hash_source = source;
  b.hash_name = std::move(name);
  return b;
}

const SocketAddress kClient = client("203.0.113.7:40000");

std::uint64_t key(const Backend& b, const std::string& fields, std::string_view target = "/") {
  const Request r(fields);
  return balance_key(b, r.head(), target, kClient);
}

TEST(BalanceKey, AHeaderKeysRequestsByItsValue) {
  const Backend b = hashing(HashSource::header, "X-User");
  const std::uint64_t alice = key(b, "X-User: alice\r\n");
  EXPECT_NE(alice, kNoKey);
  EXPECT_EQ(key(b, "Accept: */*\r\nx-user: alice\r\n"), alice) << "names match in any case";
  EXPECT_NE(key(b, "X-User: bob\r\n"), alice);
  EXPECT_EQ(key(b, "Accept: */*\r\n"), kNoKey) << "missing: spread, not all on one server";
  EXPECT_EQ(key(b, "X-User: \r\n"), kNoKey) << "empty: as good as missing";
  EXPECT_EQ(key(b, "X-User: \r\nX-User: alice\r\n"), alice) << "the first non-empty value";
}

TEST(BalanceKey, ACookieKeysRequestsByItsValue) {
  const Backend b = hashing(HashSource::cookie, "cart");
  const std::uint64_t cart = key(b, "Cookie: cart=c42\r\n");
  EXPECT_NE(cart, kNoKey);
  EXPECT_EQ(key(b, "Cookie: theme=dark; cart=c42; lang=en\r\n"), cart);
  EXPECT_NE(key(b, "Cookie: cart=c43\r\n"), cart);
  EXPECT_EQ(key(b, "Cookie: theme=dark\r\n"), kNoKey);
  EXPECT_EQ(key(b, "Accept: */*\r\n"), kNoKey);
  EXPECT_EQ(key(b, "Cookie: cart=\r\n"), kNoKey) << "empty: as good as missing";
}

TEST(BalanceKey, APathKeysRequestsByTheForwardedPathWithoutItsQuery) {
  const Backend b = hashing(HashSource::path);
  const std::uint64_t img = key(b, "", "/img/a.png");
  EXPECT_NE(img, kNoKey);
  EXPECT_EQ(key(b, "", "/img/a.png?v=2"), img);
  EXPECT_EQ(key(b, "", "/img/a.png?"), img);
  EXPECT_NE(key(b, "", "/img/b.png"), img);
  EXPECT_NE(key(b, "", "/"), kNoKey) << "every request has a path";
  // The forwarded target decides, not the client's spelling of it.
  const Request spelled("", "/img/./a.png");
  EXPECT_EQ(balance_key(b, spelled.head(), "/img/a.png", kClient), img);
}

TEST(BalanceKey, TheSourceAddressKeysRequestsByTheClientsIpNotItsPort) {
  const Backend b = hashing(HashSource::source_ip);
  const Request r("");
  const std::uint64_t here = balance_key(b, r.head(), "/", client("203.0.113.7:40000"));
  EXPECT_NE(here, kNoKey);
  EXPECT_EQ(balance_key(b, r.head(), "/", client("203.0.113.7:50001")), here);
  EXPECT_NE(balance_key(b, r.head(), "/", client("203.0.113.8:40000")), here);
  const std::uint64_t v6 = balance_key(b, r.head(), "/", client("[2001:db8::1]:1"));
  EXPECT_NE(v6, kNoKey);
  EXPECT_EQ(balance_key(b, r.head(), "/", client("[2001:db8::1]:2")), v6);
  EXPECT_NE(v6, here);
}

Backend sticky() {
  Backend b;
  b.name = "app";
  b.sticky_cookie = "SRV";
  for (const auto& [address, id] : {std::pair{"10.0.0.1:80", "a1"}, std::pair{"10.0.0.2:80", "b2"},
                                    std::pair{"10.0.0.3:80", "c3"}}) {
    BackendServer s;
    s.address = address;
    s.sticky_id = id;
    b.servers.push_back(std::move(s));
  }
  return b;
}

TEST(StickyServer, TheCookieNamesOneOfTheBackendsServers) {
  struct Row {
    const char* what;
    std::string fields;
    int server;
  };
  const Row rows[] = {
      {"the first server", "Cookie: SRV=a1\r\n", 0},
      {"the last server, among other cookies", "Cookie: x=1; SRV=c3; y=2\r\n", 2},
      {"in a second Cookie field", "Cookie: x=1\r\nCookie: SRV=b2\r\n", 1},
      {"an id no server has", "Cookie: SRV=zz\r\n", -1},
      {"an address is not an id", "Cookie: SRV=10.0.0.2:80\r\n", -1},
      {"an empty id", "Cookie: SRV=\r\n", -1},
      {"cookie names are case-sensitive (RFC 6265 §5.4)", "Cookie: srv=a1\r\n", -1},
      {"no such cookie", "Cookie: x=a1\r\n", -1},
      {"no Cookie field", "Accept: */*\r\n", -1},
  };
  const Backend b = sticky();
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    const Request req(r.fields);
    EXPECT_EQ(sticky_server(b, req.head()), r.server);
  }
}

TEST(StickyServer, NoneWithoutStickySessions) {
  Backend b = sticky();
  b.sticky_cookie.clear();
  // A nameless cookie (RFC 6265bis §5.7) must not pass for the unnamed one.
  const Request req("Cookie: SRV=a1; =a1\r\n");
  EXPECT_EQ(sticky_server(b, req.head()), -1);
}

TEST(FindCookie, ReadsTheValueOfTheNamedCookie) {
  struct Row {
    const char* what;
    std::string fields;
    std::string_view name;
    bool found;
    std::string_view value;
  };
  const Row rows[] = {
      {"the first pair", "Cookie: a=1; b=2\r\n", "a", true, "1"},
      {"the second pair", "Cookie: a=1; b=2\r\n", "b", true, "2"},
      {"pairs without a space", "Cookie: a=1;b=2\r\n", "b", true, "2"},
      {"pairs with several spaces", "Cookie: a=1;   b=2\r\n", "b", true, "2"},
      {"a name that is a prefix of an earlier one", "Cookie: ab=1; a=2\r\n", "a", true, "2"},
      {"a name that only a longer name starts with", "Cookie: ab=1\r\n", "a", false, ""},
      {"a name that ends another name", "Cookie: xa=1\r\n", "a", false, ""},
      {"an empty value", "Cookie: a=; b=2\r\n", "a", true, ""},
      {"a value with '=' in it", "Cookie: t=x=y\r\n", "t", true, "x=y"},
      {"the first of two with the name", "Cookie: a=1; a=2\r\n", "a", true, "1"},
      {"a pair without '='", "Cookie: a; b=2\r\n", "a", false, ""},
      {"a trailing ';'", "Cookie: a=1;\r\n", "a", true, "1"},
      {"a later Cookie field", "Cookie: a=1\r\nCookie: b=2\r\n", "b", true, "2"},
      {"the field name in any case", "cookie: a=1\r\n", "a", true, "1"},
      {"not in another field", "Set-Cookie: a=1\r\nX-Cookie: a=1\r\n", "a", false, ""},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    const Request req(r.fields);
    std::string_view value = "untouched";
    EXPECT_EQ(find_cookie(req.head(), r.name, value), r.found);
    if (r.found) {
      EXPECT_EQ(value, r.value);
    }
  }
}

}  // namespace
}  // namespace sluice::proxy
