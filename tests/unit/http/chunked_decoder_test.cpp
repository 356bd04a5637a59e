// The chunked decoder (RFC 9112 §7.1) fed in every possible split.
#include "http/chunked_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::http {
namespace {

struct Decoded {
  bool done = false;
  bool error = false;
  std::string data;
  std::size_t consumed = 0;
  std::string trailers;  // "name=value\n" per trailer field, once done
  std::string reason;    // why it failed
};

std::string trailer_text(const ChunkedDecoder& d) {
  std::string out;
  for (const HeaderField& f : d.trailers())
    out.append(f.name).append("=").append(f.value).append("\n");
  return out;
}

// Feeds `body` in pieces ending at `cuts`, the way a connection delivers it.
Decoded decode_in_pieces(const std::string& body, std::vector<std::size_t> cuts,
                         TrailerLimits limits = {}) {
  ChunkedDecoder d(limits);
  Decoded out;
  cuts.push_back(body.size());
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    while (pos < cut) {
      auto step = d.decode(std::string_view(body).substr(pos, cut - pos));
      if (step.error) {
        out.error = true;
        out.reason = step.reason;
        return out;
      }
      out.data.append(step.data);
      pos += step.consumed;
      if (step.done) {
        out.done = true;
        out.consumed = pos;
        out.trailers = trailer_text(d);
        return out;
      }
      if (step.consumed == 0) break;
    }
  }
  out.consumed = pos;
  return out;
}

struct Row {
  const char* rule;
  std::string body;
  bool ok;
  std::string data;
};

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"RFC 9112 §7.1: two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", true, "hello world"},
      {"RFC 9112 §7.1: upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", true, "0123456789"},
      {"RFC 9112 §7.1: leading zeros", "0005\r\nhello\r\n0\r\n\r\n", true, "hello"},
      {"RFC 9112 §7.1.1: extensions ignored", "5;name=value;x\r\nhello\r\n0;last\r\n\r\n", true,
       "hello"},
      {"RFC 9112 §7.1.1: quoted extension", "5;n=\"a;b\"\r\nhello\r\n0\r\n\r\n", true, "hello"},
      {"RFC 9112 §7.1.2: trailer fields", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", true,
       "hello"},
      {"RFC 9112 §7.1: empty body", "0\r\n\r\n", true, ""},
      {"RFC 9112 §7.1: size overflow", "fffffffffffffffff\r\n", false, ""},
      {"RFC 9112 §7.1: missing size", "\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1: bad hex digit", "5g\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1: data longer than the size", "3\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1: missing CRLF after data", "5\r\nhello0\r\n\r\n", false, ""},
      {"RFC 9112 §2.2: bare LF after size", "5\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §2.2: bare LF after data", "5\r\nhello\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.2: trailer without colon", "0\r\nBad\r\n\r\n", false, ""},
      {"RFC 9112 §5.2: folded trailer", "0\r\nX: a\r\n b\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: control character in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", false,
       ""},
      // Issue 13 item 13: after the size only BWS ";" extension, or CRLF.
      {"RFC 9112 §7.1.1: size followed by junk", "5 junk\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: size followed by a space", "5 \r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: size followed by a tab and junk", "5\tx\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: BWS before ';'", "5 \t ;a=b\r\nhello\r\n0 ;x\r\n\r\n", true, "hello"},
      {"RFC 9112 §7.1.1: BWS around '=' and after ';'", "5; a = b ;c\r\nhello\r\n0\r\n\r\n", true,
       "hello"},
      {"RFC 9112 §7.1.1: escaped quote in a quoted value", "5;a=\"x\\\";y\"\r\nhello\r\n0\r\n\r\n",
       true, "hello"},
      {"RFC 9112 §7.1.1: empty extension name", "5;\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: empty extension value", "5;a=\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: space inside an extension value", "5;a=b c\r\nhello\r\n0\r\n\r\n", false,
       ""},
      {"RFC 9112 §7.1.1: two names without ';'", "5;a b\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: unterminated quoted value", "5;a=\"b\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: text after a quoted value", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.1: non-token extension name", "5;a@b\r\nhello\r\n0\r\n\r\n", false, ""},
      // Issue 13 item 16: chunk-size = 1*HEXDIG; zeros in front do not count.
      {"RFC 9112 §7.1: 33 leading zeros", std::string(33, '0') + "5\r\nhello\r\n0\r\n\r\n", true,
       "hello"},
      {"RFC 9112 §7.1: last chunk written with many zeros",
       "5\r\nhello\r\n" + std::string(40, '0') + "\r\n\r\n", true, "hello"},
      {"RFC 9112 §7.1: 16 significant digits after zeros",
       "00000000" + std::string(16, '0') + "5\r\nhello\r\n0\r\n\r\n", true, "hello"},
      {"RFC 9112 §7.1: 17 significant digits after zeros", "0001" + std::string(16, '0') + "\r\n",
       false, ""},
      {"RFC 9112 §7.1: endless zeros are bounded", std::string(5000, '0') + "5\r\nhello\r\n", false,
       ""},
      {"RFC 9112 §7.1.2: trailer name with a space", "0\r\nX Y: 1\r\n\r\n", false, ""},
      {"RFC 9112 §7.1.2: trailer with an empty value", "0\r\nX:\r\n\r\n", true, ""},
  };
  return r;
}

TEST(ChunkedDecoder, RowsDecodeTheSameInEverySplit) {
  for (const auto& row : rows()) {
    SCOPED_TRACE(row.rule);
    const Decoded whole = decode_in_pieces(row.body, {});
    EXPECT_EQ(whole.done, row.ok);
    EXPECT_EQ(whole.error, !row.ok);
    if (row.ok) {
      EXPECT_EQ(whole.data, row.data);
    }
    for (std::size_t cut = 1; cut < row.body.size(); ++cut) {
      const Decoded split = decode_in_pieces(row.body, {cut});
      ASSERT_EQ(split.done, whole.done) << "cut " << cut;
      ASSERT_EQ(split.error, whole.error) << "cut " << cut;
      ASSERT_EQ(split.data, whole.data) << "cut " << cut;
      ASSERT_EQ(split.trailers, whole.trailers) << "cut " << cut;
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < row.body.size(); ++i)
      every.push_back(i);
    const Decoded bytewise = decode_in_pieces(row.body, every);
    EXPECT_EQ(bytewise.done, whole.done);
    EXPECT_EQ(bytewise.error, whole.error);
    EXPECT_EQ(bytewise.data, whole.data);
    EXPECT_EQ(bytewise.consumed, whole.consumed);
    EXPECT_EQ(bytewise.trailers, whole.trailers);
  }
}

// Splits `body` at every offset, and feeds it one byte at a time: each
// must decode as it does whole.
Decoded decode_every_way(const std::string& body, TrailerLimits limits = {}) {
  const Decoded whole = decode_in_pieces(body, {}, limits);
  for (std::size_t cut = 1; cut < body.size(); ++cut) {
    const Decoded split = decode_in_pieces(body, {cut}, limits);
    EXPECT_EQ(split.done, whole.done) << "cut " << cut;
    EXPECT_EQ(split.reason, whole.reason) << "cut " << cut;
    EXPECT_EQ(split.trailers, whole.trailers) << "cut " << cut;
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < body.size(); ++i)
    every.push_back(i);
  const Decoded bytewise = decode_in_pieces(body, every, limits);
  EXPECT_EQ(bytewise.reason, whole.reason);
  EXPECT_EQ(bytewise.trailers, whole.trailers);
  return whole;
}

TEST(ChunkedDecoder, TrailerFieldsAreKeptInOrderWithoutSurroundingWhiteSpace) {
  const Decoded d = decode_every_way(
      "5\r\nhello\r\n0\r\ngrpc-status: 0\r\ngrpc-message: \t all good \t\r\nX-Empty:\r\n"
      "x-checksum:abc\r\n\r\n");
  ASSERT_TRUE(d.done) << d.reason;
  EXPECT_EQ(d.data, "hello");
  EXPECT_EQ(d.trailers, "grpc-status=0\ngrpc-message=all good\nX-Empty=\nx-checksum=abc\n");
}

TEST(ChunkedDecoder, NoTrailerSectionGivesNoFields) {
  ChunkedDecoder d;
  std::string_view in = "3\r\nabc\r\n0\r\n\r\n";
  while (!d.done()) {
    const auto step = d.decode(in);
    ASSERT_FALSE(step.error) << step.reason;
    in.remove_prefix(step.consumed);
  }
  EXPECT_TRUE(d.trailers().empty());
}

// RFC 9112 §7.1.2 sets no limit; the decoder keeps at most its limits'
// worth, counted as the lines come (CRLFs included, the blank line not).
TEST(ChunkedDecoder, TrailerSectionUpToTheByteLimitIsKeptAndOneByteMoreFails) {
  const std::string fields = "a: 12345\r\nb: 6\r\n";  // 16 bytes
  const Decoded fits = decode_every_way("0\r\n" + fields + "\r\n", {100, 16});
  EXPECT_TRUE(fits.done) << fits.reason;
  EXPECT_EQ(fits.trailers, "a=12345\nb=6\n");
  const Decoded over = decode_every_way("0\r\n" + fields + "\r\n", {100, 15});
  EXPECT_FALSE(over.done);
  EXPECT_EQ(over.reason, "trailer section too large");
}

TEST(ChunkedDecoder, TrailerFieldsUpToTheCountLimitAreKeptAndOneMoreFails) {
  const std::string body = "1\r\nx\r\n0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n";
  const Decoded fits = decode_every_way(body, {3, 1024});
  EXPECT_TRUE(fits.done) << fits.reason;
  EXPECT_EQ(fits.trailers, "a=1\nb=2\nc=3\n");
  const Decoded over = decode_every_way(body, {2, 1024});
  EXPECT_FALSE(over.done);
  EXPECT_EQ(over.reason, "too many trailer fields");
}

// The default bound is what a response's trailers get: 16 KiB.
TEST(ChunkedDecoder, DefaultTrailerSectionBoundIsSixteenKibibytes) {
  const std::string line = "x-pad: " + std::string(16 * 1024 - 9, 'p') + "\r\n";
  EXPECT_TRUE(decode_in_pieces("0\r\n" + line + "\r\n", {}).done);
  const std::string longer = "x-pad: " + std::string(16 * 1024 - 8, 'p') + "\r\n";
  EXPECT_EQ(decode_in_pieces("0\r\n" + longer + "\r\n", {}).reason, "trailer section too large");
}

TEST(ChunkedDecoder, StopsAtTheEndOfTheBody) {
  const std::string body = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  const Decoded d = decode_in_pieces(body, {});
  EXPECT_TRUE(d.done);
  EXPECT_EQ(body.substr(d.consumed), "GET / HTTP/1.1\r\n");
}

TEST(ChunkedDecoder, LargestSizeBehindLeadingZerosIsAccepted) {
  // 2^64 - 1 written with 20 zeros in front: not an overflow, just big.
  const std::string line = std::string(20, '0') + std::string(16, 'f') + "\r\nabc";
  ChunkedDecoder d;
  const auto step = d.decode(line);
  EXPECT_FALSE(step.error) << step.reason;
  EXPECT_EQ(step.data, "abc");
}

TEST(ChunkedDecoder, LongExtensionIsRejected) {
  const std::string body = "5;" + std::string(5000, 'x') + "\r\nhello\r\n0\r\n\r\n";
  EXPECT_TRUE(decode_in_pieces(body, {}).error);
}

}  // namespace
}  // namespace sluice::http
