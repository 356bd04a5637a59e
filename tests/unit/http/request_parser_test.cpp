// Request parsing, one row per rule, each naming the RFC section it follows.
// Every row also runs split in two at every offset and one byte at a time
// (the message must parse identically however it arrives).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"

namespace sluice::http {
namespace {

using namespace std::string_literals;

struct Row {
  const char* rule;  // RFC section and what it says
  std::string bytes;
  int status;  // 0: valid
  Framing framing = Framing::none;
  std::uint64_t length = 0;
  bool keep_alive = true;
  const char* host = nullptr;    // when set: the request's host (Host or the target's authority)
  const char* target = nullptr;  // when set: the target as forwarded (origin-form)
};

struct Outcome {
  ParseState state = ParseState::need_more;
  int status = 0;
  Framing framing = Framing::none;
  std::uint64_t length = 0;
  bool keep_alive = false;
  std::size_t head_bytes = 0;
  std::string target;
  std::string host;
  std::size_t fields = 0;
};

Outcome parse_in_pieces(const std::string& bytes, const std::vector<std::size_t>& cuts,
                        ParserLimits limits = {}) {
  std::array<HeaderField, 128> storage;
  RequestParser p(limits, std::span<HeaderField>(storage.data(), limits.max_fields));
  Outcome o;
  std::size_t upto = 0;
  std::vector<std::size_t> points = cuts;
  points.push_back(bytes.size());
  for (std::size_t cut : points) {
    upto = cut;
    o.state = p.parse(std::string_view(bytes.data(), upto));
    if (o.state != ParseState::need_more) break;
  }
  if (o.state == ParseState::error) o.status = p.error().status;
  if (o.state == ParseState::complete) {
    o.framing = p.head().framing;
    o.length = p.head().content_length;
    o.keep_alive = p.head().keep_alive;
    o.head_bytes = p.head_bytes();
    o.target = std::string(p.head().target);
    o.host = std::string(p.head().host);
    o.fields = p.head().fields.size();
  }
  return o;
}

void expect_row(const Row& row) {
  const Outcome whole = parse_in_pieces(row.bytes, {});
  if (row.status == 0) {
    ASSERT_EQ(whole.state, ParseState::complete) << row.rule << " status " << whole.status;
    EXPECT_EQ(whole.framing, row.framing) << row.rule;
    EXPECT_EQ(whole.length, row.length) << row.rule;
    EXPECT_EQ(whole.keep_alive, row.keep_alive) << row.rule;
    if (row.host != nullptr) {
      EXPECT_EQ(whole.host, row.host) << row.rule;
    }
    if (row.target != nullptr) {
      EXPECT_EQ(whole.target, row.target) << row.rule;
    }
  } else {
    ASSERT_EQ(whole.state, ParseState::error) << row.rule;
    EXPECT_EQ(whole.status, row.status) << row.rule;
  }
  // Two pieces at every offset, then one byte at a time: the same outcome.
  for (std::size_t cut = 1; cut < row.bytes.size(); ++cut) {
    const Outcome split = parse_in_pieces(row.bytes, {cut});
    ASSERT_EQ(split.state, whole.state) << row.rule << " split at " << cut;
    ASSERT_EQ(split.status, whole.status) << row.rule << " split at " << cut;
    ASSERT_EQ(split.head_bytes, whole.head_bytes) << row.rule << " split at " << cut;
    ASSERT_EQ(split.framing, whole.framing) << row.rule << " split at " << cut;
    ASSERT_EQ(split.host, whole.host) << row.rule << " split at " << cut;
    ASSERT_EQ(split.target, whole.target) << row.rule << " split at " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < row.bytes.size(); ++i)
    every.push_back(i);
  const Outcome bytewise = parse_in_pieces(row.bytes, every);
  EXPECT_EQ(bytewise.state, whole.state) << row.rule << " byte by byte";
  EXPECT_EQ(bytewise.status, whole.status) << row.rule << " byte by byte";
  EXPECT_EQ(bytewise.target, whole.target) << row.rule << " byte by byte";
  EXPECT_EQ(bytewise.host, whole.host) << row.rule << " byte by byte";
  EXPECT_EQ(bytewise.length, whole.length) << row.rule << " byte by byte";
}

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"RFC 9112 §3: simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"RFC 9112 §9.3: 1.1 persists by default", "GET /x HTTP/1.1\r\nHost: a\r\n\r\n", 0,
       Framing::none, 0, true},
      {"RFC 9112 §9.3: 1.1 with Connection: close",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, Framing::none, 0, false},
      {"RFC 9112 §9.3: close among other options",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", 0, Framing::none, 0, false},
      {"RFC 9112 §9.3: 1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", 0, Framing::none, 0,
       false},
      {"RFC 9112 §9.3: 1.0 with keep-alive persists",
       "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, Framing::none, 0, true},
      {"RFC 9112 §3.2: 1.0 needs no Host", "GET / HTTP/1.0\r\n\r\n", 0, Framing::none, 0, false},
      {"RFC 9112 §6.2: Content-Length body",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 0, Framing::content_length, 5},
      {"RFC 9112 §6.3: Content-Length 0 is no body",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 0, Framing::none, 0},
      {"RFC 9110 §8.6: identical repeated Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", 0,
       Framing::content_length, 7},
      {"RFC 9110 §8.6: identical Content-Length list",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 0, Framing::content_length, 5},
      {"RFC 9112 §6.1: chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
       0, Framing::chunked},
      {"RFC 9112 §6.1: chunked is case-insensitive",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", 0, Framing::chunked},
      {"RFC 9112 §2.2: leading empty lines skipped", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
       0},
      {"RFC 9112 §3.2.2: absolute-form", "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"RFC 9112 §3.2.3: authority-form for CONNECT",
       "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0},
      {"RFC 9112 §3.2.4: asterisk-form for OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"RFC 9110 §5.5: empty field value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", 0},
      {"RFC 9110 §5.5: obs-text in a value",
       "GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n", 0},
      {"RFC 9110 §5.6.2: unusual token method", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"RFC 9110 §10.1.1: Expect 100-continue",
       "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", 0,
       Framing::content_length, 3},
      // Rejected, never guessed.
      {"RFC 9112 §6.1: Content-Length with Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"RFC 9112 §6.1: Transfer-Encoding then Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
       400},
      {"RFC 9110 §8.6: differing Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"RFC 9110 §8.6: differing Content-Length list",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", 400},
      {"RFC 9110 §8.6: negative Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
      {"RFC 9110 §8.6: Content-Length with a sign",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
      {"RFC 9110 §8.6: hex Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400},
      {"RFC 9110 §8.6: overflowing Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
      {"RFC 9110 §8.6: empty Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
      {"RFC 9112 §6.3: chunked not last",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"RFC 9112 §6.3: chunked twice",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
      {"RFC 9112 §6.3: only an unknown coding",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"RFC 9112 §6.1: unsupported coding before chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"RFC 9112 §6.1: chunked split over two fields then other",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
       400},
      {"RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0",
       "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"RFC 9112 §5.2: obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400},
      {"RFC 9112 §5.2: obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n",
       400},
      {"RFC 9112 §2.2: bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400},
      {"RFC 9112 §2.2: bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §2.2: bare LF ends a line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §2.2: bare LF ends the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
      {"RFC 9112 §5.1: space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"RFC 9112 §5.1: tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
      {"RFC 9110 §5.1: non-token character in name", "GET / HTTP/1.1\r\nHost: a\r\nX@Y: b\r\n\r\n",
       400},
      {"RFC 9110 §5.1: empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
      {"RFC 9112 §5: line without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
      {"RFC 9110 §5.5: NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\0c\r\n\r\n"s, 400},
      {"RFC 9110 §5.5: control character in a value",
       "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x07\r\n\r\n", 400},
      {"RFC 9110 §5.5: DEL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x7f\r\n\r\n", 400},
      {"RFC 9112 §3.2: 1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"RFC 9112 §3.2: two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"RFC 9112 §3.2: two Host fields in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
       400},
      {"RFC 9112 §3: two spaces in the request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3: trailing space in the request line", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
       400},
      {"RFC 9112 §3: missing version", "GET /\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3: non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §2.3: lower-case protocol name", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §2.3: HTTP/2.0 over an HTTP/1 connection", "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
       505},
      {"RFC 9112 §2.3: HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
      {"RFC 9112 §3.2: target with a control character", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"RFC 9112 §3.2: non-ASCII byte in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"RFC 9112 §3.2: target not in any form", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3.2.4: asterisk only for OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3.2.3: CONNECT needs authority-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      // Issue 13 item 15: Content-Length is one run of digits, or a list of
      // identical runs; leading zeros are not significant.
      {"RFC 9110 §8.6: list with white space around the comma",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 ,\t5\r\n\r\n", 0, Framing::content_length,
       5},
      {"RFC 9110 §8.6: leading zeros beyond 19 digits",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000000000000000000000000000012\r\n\r\n", 0,
       Framing::content_length, 12},
      {"RFC 9110 §8.6: the largest 19-digit length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n", 0,
       Framing::content_length, 9999999999999999999ull},
      {"RFC 9110 §8.6: list with a trailing empty member",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0,\r\n\r\n", 400},
      {"RFC 9110 §8.6: list with a leading empty member",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n", 400},
      {"RFC 9110 §8.6: list with an empty member inside",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,,5\r\n\r\n", 400},
      {"RFC 9110 §8.6: two numbers without a comma",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400},
      {"RFC 9110 §8.6: only a comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,\r\n\r\n",
       400},
      {"RFC 9110 §8.6: empty second Content-Length field",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length:\r\n\r\n", 400},
      {"RFC 9110 §8.6: 2^64 overflows",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
      // Issue 13 item 9: Host is an authority (RFC 9110 §7.2, RFC 3986 §3.2).
      {"RFC 3986 §3.2.2: reg-name with port", "GET / HTTP/1.1\r\nHost: Ex-1.example:8080\r\n\r\n",
       0, Framing::none, 0, true, "Ex-1.example:8080", "/"},
      {"RFC 3986 §3.2.2: IPv6 literal", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", 0,
       Framing::none, 0, true, "[2001:db8::1]:443"},
      {"RFC 3986 §3.2.2: IPvFuture literal", "GET / HTTP/1.1\r\nHost: [v7.a:b]\r\n\r\n", 0},
      {"RFC 3986 §3.2.2: sub-delims and escapes in a reg-name",
       "GET / HTTP/1.1\r\nHost: a_b~c!$&'()*+,;=%41\r\n\r\n", 0},
      {"RFC 3986 §3.2.3: empty port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0},
      {"RFC 1035 §2.3.4: a 255-byte host name",
       "GET / HTTP/1.1\r\nHost: " + std::string(251, 'a') + ".com:80\r\n\r\n", 0},
      {"RFC 1035 §2.3.4: a 256-byte host name",
       "GET / HTTP/1.1\r\nHost: " + std::string(252, 'A') + ".com\r\n\r\n", 400},
      {"RFC 9112 §3.2: 1.0 with an empty Host", "GET / HTTP/1.0\r\nHost:\r\n\r\n", 0, Framing::none,
       0, false, ""},
      {"RFC 9110 §7.2: Host with a path", "GET / HTTP/1.1\r\nHost: a/x\r\n\r\n", 400},
      {"RFC 9110 §7.2: Host with a query", "GET / HTTP/1.1\r\nHost: a?x\r\n\r\n", 400},
      {"RFC 9110 §7.2: Host with a fragment", "GET / HTTP/1.1\r\nHost: a#x\r\n\r\n", 400},
      {"RFC 9110 §4.2.4: Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      {"RFC 3986 §3.2.3: port not digits", "GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n", 400},
      {"RFC 3986 §3.2.3: port above 65535", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400},
      {"RFC 3986 §3.2.3: two ports", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: empty host before a port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: space in a host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: backslash in a host", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400},
      {"RFC 3986 §2.1: malformed escape in a host", "GET / HTTP/1.1\r\nHost: a%4g\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: unclosed IP literal", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: bad IPv6 literal", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", 400},
      {"RFC 6874 is not for Host: zone in an IPv6 literal",
       "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: junk after an IP literal", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400},
      {"RFC 3986 §3.2.2: IPv6 without brackets", "GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", 400},
      {"RFC 9112 §3.2: empty Host with an origin-form target", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
       400},
      {"RFC 9110 §7.2: invalid Host in 1.0", "GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", 400},
      {"RFC 9110 §7.2: invalid Host beside an absolute-form target",
       "GET http://a/ HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      // RFC 9112 §3.2.2: the authority of an absolute-form target is the host;
      // the target goes on in origin-form.
      {"RFC 9112 §3.2.2: authority replaces an empty Host",
       "GET http://Example.com:8080/x?y=1 HTTP/1.1\r\nHost:\r\n\r\n", 0, Framing::none, 0, true,
       "Example.com:8080", "/x?y=1"},
      {"RFC 9112 §3.2.2: authority replaces a different Host",
       "GET https://a.example/p HTTP/1.1\r\nHost: b.example\r\n\r\n", 0, Framing::none, 0, true,
       "a.example", "/p"},
      {"RFC 9112 §3.2.2: scheme is case-insensitive", "GET HTTP://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
       0, Framing::none, 0, true, "a", "/"},
      {"RFC 9112 §3.2.2: absolute-form without Host in 1.1", "GET http://a/p HTTP/1.1\r\n\r\n",
       400},
      {"RFC 9112 §3.2.1: empty path becomes /", "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", 0,
       Framing::none, 0, true, "a", "/"},
      {"RFC 9112 §3.2.1: empty path before a query keeps the query",
       "GET http://a?q=/x HTTP/1.1\r\nHost: a\r\n\r\n", 0, Framing::none, 0, true, "a", "?q=/x"},
      {"RFC 9112 §3.2.4: OPTIONS to an absolute-form authority is OPTIONS *",
       "OPTIONS http://a:81 HTTP/1.1\r\nHost: a\r\n\r\n", 0, Framing::none, 0, true, "a:81", "*"},
      {"RFC 9110 §4.2.4: userinfo in the target", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"RFC 9110 §4.2.1: empty authority in the target",
       "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9110 §4.2: bad port in the target", "GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3.2.2: not an http(s) URI", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3.2.2: scheme with a bad character", "GET h_p://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"RFC 9112 §3.2: fragment in the target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"RFC 9112 §3.2.3: CONNECT with userinfo", "CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"RFC 9112 §3.2.3: CONNECT without a port", "CONNECT a: HTTP/1.1\r\nHost: a\r\n\r\n", 400},
  };
  return r;
}

TEST(RequestParser, EveryRuleRowInEveryPieceSplit) {
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.rule);
    expect_row(row);
  }
  EXPECT_GE(rows().size(), 60u);
}

TEST(RequestParser, LongRequestLineIs414BeforeTheHeadEnds) {
  ParserLimits limits;
  limits.max_request_line = 100;
  std::string partial = "GET /" + std::string(200, 'a');  // no CRLF yet
  Outcome o = parse_in_pieces(partial, {}, limits);
  EXPECT_EQ(o.state, ParseState::error);
  EXPECT_EQ(o.status, 414);
}

TEST(RequestParser, LimitsGiveTheSameStatusHoweverTheBytesArrive) {
  // Found by fuzzing: a line over a limit that ends in a bare LF was 414 or
  // 431 when it arrived in pieces (the limit hit before the LF came) but
  // 400 when it arrived whole (the LF seen first).
  ParserLimits limits;
  limits.max_request_line = 100;
  limits.max_head_bytes = 1024;
  const std::string long_line = "GET /" + std::string(200, 'a') + " HTTP/1.1\nHost: a\r\n\r\n";
  const std::string long_field =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'v') + "\n\r\n";
  for (const auto& [bytes, status] : {std::pair{long_line, 414}, std::pair{long_field, 431}}) {
    EXPECT_EQ(parse_in_pieces(bytes, {}, limits).status, status);
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < bytes.size(); ++i)
      every.push_back(i);
    EXPECT_EQ(parse_in_pieces(bytes, every, limits).status, status);
    for (std::size_t cut = 1; cut < bytes.size(); ++cut)
      ASSERT_EQ(parse_in_pieces(bytes, {cut}, limits).status, status) << "split at " << cut;
  }
}

TEST(RequestParser, OversizedHeadIs431) {
  ParserLimits limits;
  limits.max_head_bytes = 1024;
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'v') + "\r\n\r\n";
  Outcome o = parse_in_pieces(req, {}, limits);
  EXPECT_EQ(o.status, 431);
  // Also while incomplete: no waiting for an end that would be too large.
  Outcome partial = parse_in_pieces(req.substr(0, 1500), {}, limits);
  EXPECT_EQ(partial.status, 431);
}

TEST(RequestParser, TooManyFieldsIs431) {
  ParserLimits limits;
  limits.max_fields = 10;
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 10; ++i)
    req += "X-" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  Outcome o = parse_in_pieces(req, {}, limits);
  EXPECT_EQ(o.status, 431);
}

// RFC 9110 §7.6.1: a proxy keeps every field Connection names on its hop,
// and remembers at most HopByHopFields::kMaxListed names: a request that
// lists more, over all its Connection fields, is refused, so no named field
// slips through to the server.
TEST(RequestParser, MoreConnectionOptionsThanAProxyRemembersIs400) {
  std::string sixteen = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive";
  for (int i = 1; i < 16; ++i)
    sixteen += ", X-" + std::to_string(i);
  sixteen += "\r\n";
  Outcome ok = parse_in_pieces(sixteen + "\r\n", {}, {});
  EXPECT_EQ(ok.status, 0);
  // The 17th name in a second Connection field.
  Outcome refused =
      parse_in_pieces(sixteen + "Connection: X-Secret\r\nX-Secret: 1\r\n\r\n", {}, {});
  EXPECT_EQ(refused.status, 400);
}

TEST(RequestParser, FieldsAreViewsWithWhiteSpaceTrimmed) {
  std::array<HeaderField, 8> storage;
  RequestParser p({}, storage);
  const std::string req = "GET /p?q=1 HTTP/1.1\r\nHost:  example.com \r\nX-A:\tb c\t\r\n\r\nrest";
  ASSERT_EQ(p.parse(req), ParseState::complete);
  const auto& h = p.head();
  EXPECT_EQ(h.method, Method::GET);
  EXPECT_EQ(h.target, "/p?q=1");
  EXPECT_EQ(h.host, "example.com");
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[1].name, "X-A");
  EXPECT_EQ(h.fields[1].value, "b c");
  EXPECT_EQ(req.substr(p.head_bytes()), "rest");
  // Views point into the caller's bytes, never copies.
  EXPECT_GE(h.fields[1].value.data(), req.data());
  EXPECT_LT(h.fields[1].value.data(), req.data() + req.size());
}

// RFC 9110 §5.5: a value may hold VCHAR, obs-text (0x80-0xff), SP and HTAB
// and no other control character. Values are checked sixteen bytes at a
// time, then eight, then one: every control character at every offset of
// values up to 40 bytes long must be found, whichever block, word or tail
// it falls in, and nothing else refused.
TEST(RequestParser, EveryControlCharacterAtEveryOffsetOfAValueIsRefused) {
  std::vector<unsigned char> controls;
  for (int c = 0; c < 0x20; ++c)
    if (c != '\t' && c != '\n') controls.push_back(static_cast<unsigned char>(c));
  controls.push_back(0x7f);
  for (std::size_t length = 1; length <= 40; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (unsigned char c : controls) {
        std::string value(length, 'v');
        value[at] = static_cast<char>(c);
        // A CR followed by LF would end the line: the rest is then a line
        // without a colon, refused as well.
        const std::string req = "GET / HTTP/1.1\r\nHost: h\r\nX-V: " + value + "\r\n\r\n";
        std::array<HeaderField, 8> storage;
        RequestParser p({}, storage);
        ASSERT_EQ(p.parse(req), ParseState::error)
            << "byte 0x" << std::hex << int{c} << " at " << std::dec << at << " of " << length;
        EXPECT_EQ(p.error().status, 400);
      }
      std::string allowed(length, 'v');
      allowed[at] = at % 3 == 0 && at + 1 < length ? '\t' : static_cast<char>(0x80 + at);
      std::array<HeaderField, 8> storage;
      RequestParser p({}, storage);
      const std::string req = "GET / HTTP/1.1\r\nHost: h\r\nX-V: x" + allowed + "\r\n\r\n";
      ASSERT_EQ(p.parse(req), ParseState::complete) << "offset " << at << " of " << length;
      EXPECT_EQ(p.head().fields[1].value, "x" + allowed);
    }
  }
}

// RFC 9112 §2.2: a line ends in CRLF. Line feeds are looked for sixteen
// bytes at a time: a bare LF at any offset of a long head, in the request
// line or a field line, whole or in two pieces, is refused as such and
// never taken for the head's end; and every line's LF is found.
TEST(RequestParser, ABareLineFeedAnywhereInALongHeadIs400) {
  const std::string head = "GET /" + std::string(37, 'p') +
                           " HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(45, 'v') +
                           "\r\nX-B: b\r\n\r\n";
  for (std::size_t at = 0; at + 4 < head.size(); ++at) {
    if (head[at] == '\r' || head[at] == '\n') continue;
    std::string bad = head;
    bad[at] = '\n';
    for (std::size_t cut : {std::size_t{0}, at, at + 1}) {
      const Outcome o = cut == 0 ? parse_in_pieces(bad, {}) : parse_in_pieces(bad, {cut});
      ASSERT_EQ(o.state, ParseState::error) << "LF at " << at << ", cut at " << cut;
      EXPECT_EQ(o.status, 400) << "LF at " << at;
    }
  }
  // And every line length puts a line's LF at every offset of a block:
  // each is found, the last one ends the head.
  for (std::size_t length = 0; length <= 40; ++length) {
    const std::string good = "GET /" + std::string(length, 'p') +
                             " HTTP/1.1\r\nHost: h\r\nX-L: " + std::string(length, 'v') +
                             "\r\n\r\n" + std::string(20, 'b');
    const Outcome o = parse_in_pieces(good, {});
    ASSERT_EQ(o.state, ParseState::complete) << "length " << length;
    EXPECT_EQ(o.head_bytes, good.size() - 20);
    EXPECT_EQ(o.fields, 2u);
  }
}

// RFC 3986 §3.2.2, §2.3, §2.2: a Host name holds letters, digits,
// unreserved and sub-delims (and escapes), nothing else. Every byte value,
// between two letters: what the RFC lists is routed, the rest is 400, so no
// byte can make the router and the backend read two different hosts.
TEST(RequestParser, EveryByteOfAHostNameIsAcceptedExactlyWhenTheRfcListsIt) {
  const std::string_view listed = "-._~!$&'()*+,;=";
  for (int c = 0; c < 256; ++c) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    listed.find(static_cast<char>(c)) != std::string_view::npos;
    const std::string host = std::string("a") + static_cast<char>(c) + "b";
    const std::string req = "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    std::array<HeaderField, 8> storage;
    RequestParser p({}, storage);
    if (ok) {
      ASSERT_EQ(p.parse(req), ParseState::complete) << "byte 0x" << std::hex << c;
      EXPECT_EQ(p.head().host, host);
    } else {
      ASSERT_EQ(p.parse(req), ParseState::error) << "byte 0x" << std::hex << c;
      EXPECT_EQ(p.error().status, 400) << "byte 0x" << std::hex << c;
    }
  }
}

// RFC 9110 §5.1: a field name is a token. Names are scanned sixteen bytes
// at a time for letters, digits and '-' (where sixteen bytes are left in
// the head: a field follows), then byte by byte: every byte value at every
// offset of names up to 24 bytes long, whichever part of the scan it falls
// in, is taken exactly when it is a tchar and refused with 400 otherwise.
TEST(RequestParser, EveryByteAtEveryOffsetOfAFieldNameIsATokenCharOrRefused) {
  const std::string_view tchar_symbols = "!#$%&'*+-.^_`|~";
  for (std::size_t length = 1; length <= 24; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (int c = 0; c < 256; ++c) {
        if (c == ':') continue;  // ends the name early: another valid line
        const bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') ||
                           tchar_symbols.find(static_cast<char>(c)) != std::string_view::npos;
        std::string name(length, at % 2 == 0 ? 'N' : 'n');
        name[at] = static_cast<char>(c);
        const std::string req =
            "GET / HTTP/1.1\r\nHost: h\r\n" + name + ": v\r\nAccept: */*\r\n\r\n";
        std::array<HeaderField, 8> storage;
        RequestParser p({}, storage);
        if (tchar) {
          ASSERT_EQ(p.parse(req), ParseState::complete)
              << "byte 0x" << std::hex << c << " at " << std::dec << at << " of " << length;
          EXPECT_EQ(p.head().fields[1].name, name);
        } else {
          ASSERT_EQ(p.parse(req), ParseState::error)
              << "byte 0x" << std::hex << c << " at " << std::dec << at << " of " << length;
          EXPECT_EQ(p.error().status, 400);
        }
      }
    }
  }
}

TEST(RequestParser, PipelinedRequestsParseOneAfterAnother) {
  std::array<HeaderField, 8> storage;
  RequestParser p({}, storage);
  std::string buf =
      "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /c HTTP/1.1\r\nHost: a\r\n\r\n";
  std::vector<std::string> targets;
  std::string_view rest(buf);
  while (!rest.empty()) {
    ASSERT_EQ(p.parse(rest), ParseState::complete);
    targets.emplace_back(p.head().target);
    const std::size_t used = p.head_bytes() + p.head().content_length;
    rest.remove_prefix(used);
    p.reset();
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(RequestParser, ExpectContinueAndUpgradeAreNoted) {
  std::array<HeaderField, 8> storage;
  RequestParser p({}, storage);
  ASSERT_EQ(p.parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "Expect: 100-continue\r\n\r\n"),
            ParseState::complete);
  EXPECT_TRUE(p.head().upgrade);
  EXPECT_TRUE(p.head().expect_continue);
}

}  // namespace
}  // namespace sluice::http
