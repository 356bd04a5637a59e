// The pool key: a destination is an address together with the transport
// parameters its connections are made with, so a connection set up for one
// TLS server name (or trust, ALPN, client certificate) is never handed to
// a request meant for another.
#include "proxy/destination_table.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice::proxy {
namespace {

SocketAddress address(const char* text) {
  auto a = SocketAddress::parse_numeric(text);
  EXPECT_TRUE(a.ok()) << text;
  return *a;
}

TEST(DestinationTable, SameAddressAndTransportShareOneKeyAndEndpoint) {
  DestinationTable table;
  TransportParams tls;
  tls.tls = true;
  tls.sni = "api.example.com";
  const auto* first = table.endpoint_of(address("127.0.0.1:8080"), tls);
  const auto* again = table.endpoint_of(address("127.0.0.1:8080"), tls);
  EXPECT_EQ(first, again);
  EXPECT_EQ(first->pool_key, again->pool_key);
  EXPECT_EQ(first->addr, address("127.0.0.1:8080"));
  EXPECT_EQ(table.size(), 1u);
}

TEST(DestinationTable, PlainAddressesKeepOneKeyEachAsBefore) {
  DestinationTable table;
  const auto* a = table.endpoint_of(address("127.0.0.1:8080"), {});
  const auto* b = table.endpoint_of(address("127.0.0.1:8081"), {});
  EXPECT_NE(a->pool_key, b->pool_key);
  EXPECT_EQ(table.endpoint_of(address("127.0.0.1:8080"), {})->pool_key, a->pool_key);
}

TEST(DestinationTable, SameAddressWithOtherTransportParamsGetsItsOwnKey) {
  DestinationTable table;
  const SocketAddress addr = address("127.0.0.1:8443");
  TransportParams plain;
  TransportParams tls;
  tls.tls = true;
  TransportParams sni_a = tls;
  sni_a.sni = "a.example.com";
  TransportParams sni_b = tls;
  sni_b.sni = "b.example.com";
  TransportParams verified = sni_a;
  verified.verify_peer = true;
  TransportParams h2 = sni_a;
  h2.alpn = {"h2", "http/1.1"};
  TransportParams h1 = sni_a;
  h1.alpn = {"http/1.1"};
  TransportParams with_cert = sni_a;
  with_cert.client_certificate = "/etc/sluice/client.pem";

  std::set<DestinationId> keys;
  for (const TransportParams* t : {&plain, &tls, &sni_a, &sni_b, &verified, &h2, &h1, &with_cert})
    keys.insert(table.endpoint_of(addr, *t)->pool_key);
  EXPECT_EQ(keys.size(), 8u) << "two transports to one address shared a pool key";
  EXPECT_EQ(table.size(), 8u);

  // Asking again with equal parameters (another copy) finds the same keys.
  TransportParams sni_b_again;
  sni_b_again.tls = true;
  sni_b_again.sni = "b.example.com";
  EXPECT_EQ(table.endpoint_of(addr, sni_b_again)->pool_key,
            table.endpoint_of(addr, sni_b)->pool_key);
  EXPECT_EQ(table.size(), 8u);
}

}  // namespace
}  // namespace sluice::proxy
