// Response framing (RFC 9112 §6.3) decides whether a proxy waits for a body
// and whether the connection can be reused: every case has a row.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "http/parser.h"

namespace sluice::http {
namespace {

struct Row {
  const char* rule;
  Method request;
  std::string bytes;
  int status;  // 0: valid; else the parser's error status (502)
  Framing framing = Framing::none;
  std::uint64_t length = 0;
  bool keep_alive = true;
};

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"RFC 9112 §6.3: Content-Length", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n", 0, Framing::content_length, 13},
      {"RFC 9112 §6.3: chunked", Method::GET,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, Framing::chunked},
      {"RFC 9112 §6.3: no length: close-delimited", Method::GET, "HTTP/1.1 200 OK\r\n\r\n", 0,
       Framing::close_delimited, 0, false},
      {"RFC 9112 §6.3: HEAD response has no body whatever CL says", Method::HEAD,
       "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: HEAD answered 401 with CL has no body", Method::HEAD,
       "HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: HEAD response with chunked has no body", Method::HEAD,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: 204 has no body", Method::GET,
       "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: 304 has no body", Method::GET,
       "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: 100 has no body", Method::POST, "HTTP/1.1 100 Continue\r\n\r\n", 0,
       Framing::none},
      {"RFC 9112 §6.3: 103 has no body", Method::GET,
       "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: 2xx to CONNECT has no body", Method::CONNECT,
       "HTTP/1.1 200 Connection Established\r\n\r\n", 0, Framing::none},
      {"RFC 9112 §6.3: TE wins over CL but the connection closes", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
       Framing::chunked, 0, false},
      {"RFC 9112 §6.3: TE without chunked last is close-delimited", Method::GET,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, Framing::close_delimited, 0, false},
      {"RFC 9112 §9.3: 1.0 response closes", Method::GET,
       "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0, Framing::content_length, 1, false},
      {"RFC 9112 §9.3: 1.0 response with keep-alive persists", Method::GET,
       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", 0,
       Framing::content_length, 1, true},
      {"RFC 9112 §9.3: Connection: close", Method::GET,
       "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", 0,
       Framing::content_length, 1, false},
      {"RFC 9112 §4: empty reason phrase", Method::GET,
       "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, Framing::content_length, 0},
      {"RFC 9112 §4: no reason phrase", Method::GET, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0,
       Framing::content_length, 0},
      {"RFC 9110 §8.6: differing Content-Length", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 502},
      {"RFC 9112 §4: two-digit status", Method::GET, "HTTP/1.1 20 OK\r\n\r\n", 502},
      {"RFC 9112 §4: garbage status line", Method::GET, "ICY 200 OK\r\n\r\n", 502},
      {"RFC 9112 §5.2: obs-fold in a response", Method::GET,
       "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502},
      {"RFC 9112 §2.2: bare LF in a response", Method::GET,
       "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 502},
      // Issue 13 item 15, on the response side: a bad length is a bad gateway.
      {"RFC 9110 §8.6: identical Content-Length list", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 3 , 3\r\n\r\n", 0, Framing::content_length, 3},
      {"RFC 9110 §8.6: leading zeros in Content-Length", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000000000007\r\n\r\n", 0,
       Framing::content_length, 7},
      {"RFC 9110 §8.6: Content-Length list with an empty member", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 0,\r\n\r\n", 502},
      {"RFC 9110 §8.6: Content-Length list with two empty members", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 3,,3\r\n\r\n", 502},
      {"RFC 9110 §8.6: differing Content-Length list", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", 502},
      {"RFC 9110 §8.6: Content-Length with a sign", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n", 502},
      {"RFC 9110 §8.6: empty Content-Length", Method::GET,
       "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 502},
      // RFC 9110 §15: a status code is three digits from 100 to 599.
      {"RFC 9110 §15: status 599", Method::GET, "HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n", 0,
       Framing::content_length, 0},
      {"RFC 9110 §15: status 600 is not HTTP", Method::GET,
       "HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n", 502},
      {"RFC 9110 §15: status 999 is not HTTP", Method::GET, "HTTP/1.1 999\r\n\r\n", 502},
      {"RFC 9112 §4: status 099", Method::GET, "HTTP/1.1 099 X\r\n\r\n", 502},
      {"RFC 9112 §4: four-digit status", Method::GET, "HTTP/1.1 2000 OK\r\n\r\n", 502},
      {"RFC 9112 §4: status with a sign", Method::GET, "HTTP/1.1 +20 OK\r\n\r\n", 502},
      {"RFC 9112 §4: tab after the status", Method::GET, "HTTP/1.1 200\tOK\r\n\r\n", 502},
      {"RFC 9112 §2.3: HTTP/2.0 status line", Method::GET, "HTTP/2.0 200 OK\r\n\r\n", 502},
      {"RFC 9112 §2.3: HTTP/1.2 status line", Method::GET, "HTTP/1.2 200 OK\r\n\r\n", 502},
  };
  return r;
}

TEST(ResponseParser, FramingRowsInEveryPieceSplit) {
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.rule);
    for (std::size_t cut = 0; cut < row.bytes.size(); ++cut) {
      std::array<HeaderField, 16> storage;
      ResponseParser p({}, storage);
      ParseState s = ParseState::need_more;
      if (cut > 0) s = p.parse(std::string_view(row.bytes).substr(0, cut), row.request);
      if (s == ParseState::need_more) s = p.parse(row.bytes, row.request);
      if (row.status != 0) {
        ASSERT_EQ(s, ParseState::error) << "cut " << cut;
        EXPECT_EQ(p.error().status, row.status);
        continue;
      }
      ASSERT_EQ(s, ParseState::complete) << "cut " << cut << ": " << p.error().reason;
      EXPECT_EQ(p.head().framing, row.framing);
      EXPECT_EQ(p.head().content_length, row.length);
      EXPECT_EQ(p.head().keep_alive, row.keep_alive);
      EXPECT_EQ(p.head_bytes(), row.bytes.size());
    }
  }
}

TEST(ResponseParser, StatusAndReasonAreViews) {
  std::array<HeaderField, 4> storage;
  ResponseParser p({}, storage);
  ASSERT_EQ(p.parse("HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n", Method::GET), ParseState::complete);
  EXPECT_EQ(p.head().status, 404);
  EXPECT_EQ(p.head().reason, "Not Found");
  ASSERT_EQ(p.head().fields.size(), 1u);
}

// A server's response may not hide a field from our hop-by-hop filter by
// listing more Connection options than it remembers: 502, not forwarded.
TEST(ResponseParser, MoreConnectionOptionsThanAProxyRemembersIsAnError) {
  std::string head = "HTTP/1.1 200 OK\r\nConnection: ";
  for (int i = 0; i < 17; ++i)
    head += (i ? ", X-" : "X-") + std::to_string(i);
  head += "\r\nContent-Length: 0\r\n\r\n";
  std::array<HeaderField, 8> storage;
  ResponseParser p({}, storage);
  EXPECT_EQ(p.parse(head, Method::GET), ParseState::error);
}

}  // namespace
}  // namespace sluice::http
