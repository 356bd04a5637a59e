// What a server receives for a client's request (ForwardedRequest, then the
// HTTP/1 encoder): every row is a raw client request, parsed as the proxy
// parses it, and the exact head the server gets.
#include "proxy/forwarded_request.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "core/address.h"
#include "http/h1_encoder.h"
#include "http/head_writer.h"
#include "http/parser.h"
#include "proxy/forwarded_headers.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

constexpr std::string_view kClient = "203.0.113.7:40000";

// The listener and client a request arrives on.
struct Arrival {
  ForwardedPolicy policy;  // every X-Forwarded-* field by default, as configured by default
  bool keep_underscore_fields = false;
  std::string_view client = kClient;
  bool secure = false;
  std::string_view host;            // Host to send; empty: the client's
  std::string_view target;          // target to send; empty: the client's
  std::string_view subject_field;   // the listener's client_auth.header; empty: none
  std::string_view client_subject;  // the connection's verified certificate subject

  static Arrival without_forwarded_fields() {
    Arrival s;
    s.policy.x_forwarded_for = false;
    s.policy.x_forwarded_proto = false;
    s.policy.x_forwarded_host = false;
    return s;
  }
};

// The request head the server receives for `raw` from the client.
std::string forwarded(const std::string& raw, const Arrival& s = {}) {
  std::array<http::HeaderField, 128> storage;
  http::RequestParser parser({}, std::span<http::HeaderField>(storage.data(), 100));
  if (parser.parse(raw) != http::ParseState::complete) {
    ADD_FAILURE() << "the request does not parse: " << parser.error().reason;
    return {};
  }
  const http::RequestHead& head = parser.head();
  ListenerSettings listener;
  listener.name = "web";
  listener.keep_underscore_fields = s.keep_underscore_fields;
  listener.client_subject_field = s.subject_field;
  listener.forwarded = std::make_shared<ForwardedPolicy>(s.policy);
  auto client = SocketAddress::parse_numeric(s.client);
  if (!client.ok()) {
    ADD_FAILURE() << "bad client address " << s.client;
    return {};
  }
  const ForwardedRequest request(
      head, {s.target.empty() ? head.target : s.target, s.host.empty() ? head.host : s.host,
             &listener, &client.value(), s.secure, s.client_subject});
  std::array<char, 16 * 1024> bytes{};
  http::HeadWriter out{std::span<char>(bytes)};
  EXPECT_TRUE(http::encode_request_head(out, request.request()));
  return std::string(out.text());
}

struct Row {
  const char* what;
  std::string request;    // from the client
  std::string forwarded;  // to the server
  Arrival setup = Arrival::without_forwarded_fields();
};

void expect_rows(std::initializer_list<Row> rows) {
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    EXPECT_EQ(forwarded(r.request, r.setup), r.forwarded);
  }
}

TEST(ForwardedRequest, HopByHopFieldsStayOnTheClientsConnection) {
  expect_rows({
      {"Connection and Keep-Alive (RFC 9110 §7.6.1)",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
       "Accept: */*\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"},
      {"fields the Connection field names, in any case",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Secret, close\r\nx-secret: 1\r\n"
       "X-Public: 2\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Public: 2\r\n\r\n"},
      {"fields named by two Connection fields",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-One\r\nConnection: X-Two\r\nX-One: 1\r\n"
       "X-Two: 2\r\nX-Three: 3\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Three: 3\r\n\r\n"},
      {"Proxy-Connection and TE",
       "GET / HTTP/1.1\r\nHost: a\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
       "Accept: */*\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"},
      {"Upgrade without Connection: upgrade is no upgrade request",
       "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nAccept: */*\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"},
      {"an upgrade request keeps Upgrade and asks again with Connection: upgrade",
       "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Key: k\r\n\r\n",
       "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n"
       "Connection: upgrade\r\n\r\n"},
      {"a Connection field naming Content-Length does not unframe the body",
       "POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 3\r\n\r\n",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"},
  });
}

TEST(ForwardedRequest, StatesTheBodysFramingItself) {
  expect_rows({
      {"Expect is answered by the proxy, not forwarded",
       "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
       "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"},
      {"Content-Length rewritten in canonical form after the other fields",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0012, 12\r\nAccept: */*\r\n\r\n",
       "POST / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nContent-Length: 12\r\n\r\n"},
      {"a bodiless POST says Content-Length: 0 (RFC 9110 §8.6)",
       "POST /p HTTP/1.1\r\nHost: a\r\n\r\n",
       "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
      {"a bodiless PUT too", "PUT /p HTTP/1.1\r\nHost: a\r\n\r\n",
       "PUT /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
      {"a bodiless PATCH too", "PATCH /p HTTP/1.1\r\nHost: a\r\n\r\n",
       "PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
      {"an explicit Content-Length: 0 stays",
       "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
      {"a bodiless DELETE gets no framing field", "DELETE /p HTTP/1.1\r\nHost: a\r\n\r\n",
       "DELETE /p HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"a bodiless GET gets no framing field", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
      {"a chunked body goes chunked, the client's Transfer-Encoding restated",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nAccept: */*\r\n\r\n",
       "POST / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\n\r\n"},
  });
}

TEST(ForwardedRequest, HostComesFirstFromTheRouteOrTheClient) {
  Arrival rewritten = Arrival::without_forwarded_fields();
  rewritten.host = "backend.internal:8080";
  rewritten.target = "/v2/items?page=2";
  expect_rows({
      {"the client's Host, first although the client sent it last",
       "GET / HTTP/1.1\r\nAccept: */*\r\nUser-Agent: t\r\nHost: example.com\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nUser-Agent: t\r\n\r\n"},
      {"an absolute-form target: its authority is the Host, origin-form is sent",
       "GET http://example.com/p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"},
      {"the route's rewritten Host and target replace the client's",
       "GET /items?page=2 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
       "GET /v2/items?page=2 HTTP/1.1\r\nHost: backend.internal:8080\r\nAccept: */*\r\n\r\n",
       rewritten},
  });
}

TEST(ForwardedRequest, FieldNamesWithUnderscoresAreDroppedUnlessTheListenerKeepsThem) {
  Arrival keep = Arrival::without_forwarded_fields();
  keep.keep_underscore_fields = true;
  const std::string request =
      "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 10.9.9.9\r\nAccept: */*\r\n"
      "my_field: v\r\n\r\n";
  expect_rows({
      {"dropped by default (CGI would read X_Forwarded_For as X-Forwarded-For)", request,
       "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"},
      {"kept with keep_underscore_fields", request,
       "GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 10.9.9.9\r\nAccept: */*\r\n"
       "my_field: v\r\n\r\n",
       keep},
  });
}

TEST(ForwardedRequest, XForwardedFieldsTellTheServerWhoAskedAndHow) {
  Arrival secure;
  secure.secure = true;
  Arrival v6;
  v6.client = "[2001:db8::1]:5000";
  Arrival rewritten_host;
  rewritten_host.host = "backend.internal";
  Arrival only_for;
  only_for.policy.x_forwarded_proto = false;
  only_for.policy.x_forwarded_host = false;
  Arrival without_for;
  without_for.policy.x_forwarded_for = false;
  expect_rows({
      {"all three, after the client's fields",
       "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Forwarded-For: 203.0.113.7\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       Arrival{}},
      {"https for a client on an encrypted connection",
       "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 203.0.113.7\r\n"
       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\n\r\n",
       secure},
      {"an IPv6 client's address without brackets or port",
       "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 2001:db8::1\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       v6},
      {"earlier proxies' X-Forwarded-For values come first, in order, as one field",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\nAccept: */*\r\n"
       "x-forwarded-for: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-For: \r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"
       "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 203.0.113.7\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       Arrival{}},
      {"the client's own X-Forwarded-Proto and -Host are replaced, not passed on",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\n"
       "X-Forwarded-Host: bank.example\r\nAccept: */*\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Forwarded-For: 203.0.113.7\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       Arrival{}},
      {"X-Forwarded-Host is the client's host when the route rewrites Host",
       "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: backend.internal\r\nX-Forwarded-For: 203.0.113.7\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       rewritten_host},
      {"no X-Forwarded-Host for an HTTP/1.0 request without a host", "GET / HTTP/1.0\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: backend.internal\r\nX-Forwarded-For: 203.0.113.7\r\n"
       "X-Forwarded-Proto: http\r\n\r\n",
       rewritten_host},
      {"only the configured fields are added; the others pass as the client sent them",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\n"
       "X-Forwarded-For: 10.0.0.1\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\n"
       "X-Forwarded-For: 10.0.0.1, 203.0.113.7\r\n\r\n",
       only_for},
      {"without x_forwarded_for the client's X-Forwarded-For passes untouched",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       without_for},
  });
}

TEST(ForwardedRequest, ClientsInTheExceptNetworksGetNothingAddedOrReplaced) {
  Arrival trusted;
  trusted.client = "10.1.2.3:40000";
  ASSERT_TRUE(trusted.policy.except.add("10.0.0.0/8"));
  Arrival outside = trusted;
  outside.client = "11.1.2.3:40000";
  const std::string request =
      "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 198.51.100.1\r\n"
      "X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n\r\n";
  expect_rows({
      {"a trusted proxy's fields pass as it wrote them", request,
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 198.51.100.1\r\n"
       "X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n\r\n",
       trusted},
      {"a client outside the networks gets the usual treatment", request,
       "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 198.51.100.1, 11.1.2.3\r\n"
       "X-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\n\r\n",
       outside},
  });
}

// Fields past the inline capacity (48) move to the heap: none is lost or
// reordered, at the boundary or well past it, the added ones included.
TEST(ForwardedRequest, OnlyAVerifiedClientCertificateNamesItsSubject) {
  Arrival s = Arrival::without_forwarded_fields();
  s.subject_field = "X-Client-DN";
  s.client_subject = "CN=alice,O=Example";
  const std::string claims =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Client-DN: CN=mallory\r\n"
      "x-client-cert-subject: CN=mallory\r\n\r\n";
  // The client's claims go, under either name; the verified subject comes in.
  EXPECT_EQ(forwarded(claims, s),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Client-DN: CN=alice,O=Example\r\n\r\n");
  // No certificate on this connection: nothing is claimed for it.
  s.client_subject = {};
  EXPECT_EQ(forwarded(claims, s), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  // A listener without client certificates still drops the default name.
  EXPECT_EQ(forwarded(claims, Arrival::without_forwarded_fields()),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Client-DN: CN=mallory\r\n\r\n");
}

TEST(ForwardedRequest, ManyFieldsAreAllForwardedInOrder) {
  for (const int count : {45, 46, 47, 48, 49, 90}) {
    SCOPED_TRACE(count);
    std::string request = "GET / HTTP/1.1\r\nHost: example.com\r\n";
    std::string expected = "GET / HTTP/1.1\r\nHost: example.com\r\n";
    for (int i = 0; i < count; ++i) {
      const std::string line = "X-Field-" + std::to_string(i) + ": " + std::to_string(i) + "\r\n";
      request += line;
      expected += line;
    }
    request += "\r\n";
    expected +=
        "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: http\r\n"
        "X-Forwarded-Host: example.com\r\n\r\n";
    EXPECT_EQ(forwarded(request, Arrival{}), expected);
  }
}

// An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d; the
// IPv4 networks of `except` hold for it as for the same client on an IPv4
// listener.
TEST(ForwardedRequest, ExceptNetworksMatchIpv4ClientsOfADualStackListener) {
  ForwardedPolicy policy;
  ASSERT_TRUE(policy.except.add("10.0.0.0/8"));
  auto mapped = SocketAddress::parse_numeric("[::ffff:10.1.2.3]:40000");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(policy.applies_to(*mapped));
  auto outside = SocketAddress::parse_numeric("[::ffff:11.1.2.3]:40000");
  ASSERT_TRUE(outside);
  EXPECT_TRUE(policy.applies_to(*outside));
}

}  // namespace
}  // namespace sluice::proxy
