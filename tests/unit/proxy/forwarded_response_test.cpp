// What a client receives for a server's response (forwarded_response, then
// the HTTP/1 encoder to an HTTP/1.1 client): every row is a raw server
// response, parsed as the proxy parses it, and the exact head the client
// gets, or how its body travels.
#include "proxy/forwarded_response.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "http/h1_encoder.h"
#include "http/head_writer.h"
#include "http/parser.h"

namespace sluice::proxy {
namespace {

constexpr std::size_t kParserFields = 32;

struct Relayed {
  std::string head;  // as an HTTP/1.1 client on a keep-alive connection gets it
  http::BodyKind body = http::BodyKind::none;
  std::uint64_t length = 0;
};

Relayed relay(const std::string& raw, const ForwardedResponseInputs& in = {}) {
  // One slot more than the parser may fill, for the sticky cookie.
  std::array<http::HeaderField, kParserFields + 1> storage;
  http::ParserLimits limits;
  limits.max_fields = kParserFields;
  http::ResponseParser parser(limits, std::span<http::HeaderField>(storage.data(), kParserFields));
  if (parser.parse(raw, in.request_method) != http::ParseState::complete) {
    ADD_FAILURE() << "the response does not parse: " << parser.error().reason;
    return {};
  }
  std::string cookie;
  const http::OutgoingResponse res = forwarded_response(parser.head(), storage, in, cookie);
  std::array<char, 8 * 1024> bytes{};
  http::HeadWriter out{std::span<char>(bytes)};
  EXPECT_TRUE(http::encode_response_head(out, res, http::choose_framing(res.body, 1),
                                         http::H1Persistence{}));
  return {std::string(out.text()), res.body, res.length};
}

struct Row {
  const char* what;
  std::string response;   // from the server
  std::string forwarded;  // to the client
  ForwardedResponseInputs in = {};
};

void expect_rows(std::initializer_list<Row> rows) {
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    EXPECT_EQ(relay(r.response, r.in).head, r.forwarded);
  }
}

TEST(ForwardedResponse, HopByHopFieldsStayOnTheServersConnection) {
  expect_rows({
      {"Connection, Keep-Alive, Proxy-Connection, TE and what Connection names",
       "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n"
       "X-Hop: 1\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nServer: s\r\n"
       "Content-Length: 2\r\n\r\n",
       "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\n"},
      {"Upgrade on a response that does not switch",
       "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nServer: s\r\nContent-Length: 0\r\n\r\n",
       "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 0\r\n\r\n"},
      {"a 101 keeps Upgrade and says Connection: upgrade",
       "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Accept: abc\r\n\r\n",
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc\r\n"
       "Connection: upgrade\r\n\r\n",
       {http::Method::GET, true, {}}},
  });
}

TEST(ForwardedResponse, ContentLengthIsRestatedButKeptWhereItDescribesNoBody) {
  expect_rows({
      {"the server's Content-Length restated after the other fields",
       "HTTP/1.1 200 OK\r\nContent-Length: 0012\r\nServer: s\r\n\r\n",
       "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 12\r\n\r\n"},
      {"Content-Length beside chunked is dropped: the body goes chunked alone",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nServer: s\r\n\r\n",
       "HTTP/1.1 200 OK\r\nServer: s\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"a response to HEAD keeps the length of what GET would send (RFC 9110 §8.6)",
       "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nServer: s\r\n\r\n",
       "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nServer: s\r\n\r\n",
       {http::Method::HEAD, false, {}}},
      {"a 304 keeps it too",
       "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1000\r\n\r\n",
       "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1000\r\n\r\n"},
      {"a 204 has no body and gets no Content-Length",
       "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nServer: s\r\n\r\n",
       "HTTP/1.1 204 No Content\r\nServer: s\r\n\r\n"},
  });
}

TEST(ForwardedResponse, TheStickyCookieIsSetAfterTheServersOwn) {
  ForwardedResponseInputs sticky{http::Method::GET, false, "SRV=s2"};
  expect_rows({
      {"with Path=/ and HttpOnly",
       "HTTP/1.1 200 OK\r\nSet-Cookie: session=abc\r\nContent-Length: 0\r\n\r\n",
       "HTTP/1.1 200 OK\r\nSet-Cookie: session=abc\r\nSet-Cookie: SRV=s2; Path=/; HttpOnly\r\n"
       "Content-Length: 0\r\n\r\n",
       sticky},
      {"none when the response did not choose the server",
       "HTTP/1.1 200 OK\r\nSet-Cookie: session=abc\r\nContent-Length: 0\r\n\r\n",
       "HTTP/1.1 200 OK\r\nSet-Cookie: session=abc\r\nContent-Length: 0\r\n\r\n"},
  });
  // A response with as many fields as the parser holds still gets it.
  std::string full = "HTTP/1.1 200 OK\r\n";
  std::string expected = "HTTP/1.1 200 OK\r\n";
  for (std::size_t i = 0; i < kParserFields; ++i) {
    const std::string line = "X-" + std::to_string(i) + ": v\r\n";
    full += line;
    expected += line;
  }
  full += "\r\n";
  expected += "Set-Cookie: SRV=s2; Path=/; HttpOnly\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(relay(full, sticky).head, expected);
}

TEST(ForwardedResponse, TheBodyTravelsAsTheServersFramingSays) {
  struct BodyRow {
    const char* what;
    http::Method method;
    std::string response;
    http::BodyKind body;
    std::uint64_t length;
  };
  const BodyRow rows[] = {
      {"Content-Length: the same length", http::Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", http::BodyKind::sized, 7},
      {"Content-Length: 0 is a sized empty body", http::Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", http::BodyKind::sized, 0},
      {"chunked: streamed", http::Method::GET,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", http::BodyKind::streamed, 0},
      {"until the server closes: streamed", http::Method::GET, "HTTP/1.1 200 OK\r\n\r\n",
       http::BodyKind::streamed, 0},
      {"a 204: none", http::Method::GET, "HTTP/1.1 204 No Content\r\n\r\n", http::BodyKind::none,
       0},
      {"a response to HEAD: none", http::Method::HEAD,
       "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", http::BodyKind::none, 0},
  };
  for (const BodyRow& r : rows) {
    SCOPED_TRACE(r.what);
    const Relayed relayed = relay(r.response, {r.method, false, {}});
    EXPECT_EQ(relayed.body, r.body);
    EXPECT_EQ(relayed.length, r.length);
  }
}

}  // namespace
}  // namespace sluice::proxy
