#include "http/body_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "http/message.h"

namespace sluice::http {
namespace {

std::span<char> span_of(std::string& s) {
  return std::span<char>(s.data(), s.size());
}

// What a caller's read loop sees: bytes arrive `piece` at a time into a
// buffer; after each decode the data at the front is taken and the
// consumed bytes leave the buffer, the rest waits for more.
struct Fed {
  std::string data;
  std::string left;  // bytes not consumed at the end
  bool done = false;
  bool error = false;
  bool too_large = false;
  std::string reason;
};

Fed feed(BodyDecoder& d, std::string_view input, std::size_t piece) {
  Fed f;
  std::string buffer;
  std::size_t next = 0;
  while (next < input.size() && !f.done && !f.error) {
    const std::size_t n = std::min(piece, input.size() - next);
    buffer.append(input.substr(next, n));
    next += n;
    const auto r = d.decode(span_of(buffer));
    f.data.append(buffer, 0, r.data_bytes);
    buffer.erase(0, r.consumed);
    f.done = r.done;
    f.error = r.error;
    f.too_large = r.too_large;
    f.reason = r.reason;
  }
  f.left = buffer + std::string(input.substr(next));
  return f;
}

TEST(BodyDecoder, NoBodyIsDoneAtOnce) {
  BodyDecoder d(Framing::none, 99);
  EXPECT_TRUE(d.done());
  std::string in = "GET / HTTP/1.1\r\n";
  const auto r = d.decode(span_of(in));
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(r.data_bytes, 0u);
  EXPECT_TRUE(r.done);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(in, "GET / HTTP/1.1\r\n");
  EXPECT_TRUE(d.end_of_input());
}

TEST(BodyDecoder, ContentLengthZeroIsDoneAtOnce) {
  BodyDecoder d(Framing::content_length, 0);
  EXPECT_TRUE(d.done());
  std::string in = "next";
  const auto r = d.decode(span_of(in));
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(r.done);
}

TEST(BodyDecoder, ContentLengthSplitAcrossCalls) {
  BodyDecoder d(Framing::content_length, 10);
  std::string first = "hello";
  auto r = d.decode(span_of(first));
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(r.data_bytes, 5u);
  EXPECT_FALSE(r.done);
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.body_bytes(), 5u);
  std::string second = "world";
  r = d.decode(span_of(second));
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(r.data_bytes, 5u);
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(d.body_bytes(), 10u);
  EXPECT_EQ(second, "world");  // the data was already at the front
}

TEST(BodyDecoder, ContentLengthLeavesAPipelinedRequestUntouched) {
  BodyDecoder d(Framing::content_length, 3);
  std::string in = "abcGET /next HTTP/1.1\r\n\r\n";
  const auto r = d.decode(span_of(in));
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(r.data_bytes, 3u);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(in, "abcGET /next HTTP/1.1\r\n\r\n");
  // Done: later calls take nothing.
  const auto again = d.decode(span_of(in).subspan(3));
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(again.data_bytes, 0u);
  EXPECT_TRUE(again.done);
  EXPECT_EQ(d.body_bytes(), 3u);
}

TEST(BodyDecoder, HugeContentLengthTakesWhatComes) {
  BodyDecoder d(Framing::content_length, UINT64_MAX);
  std::string in = "some bytes";
  const auto r = d.decode(span_of(in));
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(r.data_bytes, in.size());
  EXPECT_FALSE(r.done);
  EXPECT_FALSE(d.end_of_input());
}

TEST(BodyDecoder, ContentLengthCutShortIsNotAnEnd) {
  BodyDecoder d(Framing::content_length, 10);
  std::string in = "12345";
  d.decode(span_of(in));
  EXPECT_FALSE(d.end_of_input());
  EXPECT_FALSE(d.done());
}

TEST(BodyDecoder, ChunkedDataIsCompactedAtTheFront) {
  BodyDecoder d(Framing::chunked, 0);
  const std::string body = "5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
  std::string in = body + "GET / HTTP/1.1\r\n";
  const auto r = d.decode(span_of(in));
  EXPECT_FALSE(r.error);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.consumed, body.size());
  EXPECT_EQ(r.data_bytes, 11u);
  EXPECT_EQ(in.substr(0, r.data_bytes), "hello world");
  EXPECT_EQ(in.substr(r.consumed), "GET / HTTP/1.1\r\n");
  EXPECT_EQ(d.body_bytes(), 11u);
}

// Extensions, a quoted value, trailers and a pipelined request after the
// body, fed in every piece size from one byte up.
TEST(BodyDecoder, ChunkedFedInPiecesGivesTheSameData) {
  const std::string body =
      "3;name=value;q=\"a \\\" b\"\r\nabc\r\n"
      "000a ; ext\r\n0123456789\r\n"
      "1\r\n\n\r\n"
      "0;last\r\nTrailer-A: x\r\nTrailer-B: y z\r\n\r\n";
  const std::string pipelined = "GET /next HTTP/1.1\r\n\r\n";
  for (std::size_t piece = 1; piece <= body.size() + pipelined.size(); ++piece) {
    BodyDecoder d(Framing::chunked, 0);
    const Fed f = feed(d, body + pipelined, piece);
    ASSERT_FALSE(f.error) << "pieces of " << piece << ": " << f.reason;
    EXPECT_TRUE(f.done) << "pieces of " << piece;
    EXPECT_EQ(f.data, "abc0123456789\n") << "pieces of " << piece;
    EXPECT_EQ(f.left, pipelined) << "pieces of " << piece;
    EXPECT_EQ(d.body_bytes(), 14u);
    ASSERT_EQ(d.trailers().size(), 2u) << "pieces of " << piece;
    EXPECT_EQ(d.trailers()[0].name, "Trailer-A");
    EXPECT_EQ(d.trailers()[0].value, "x");
    EXPECT_EQ(d.trailers()[1].name, "Trailer-B");
    EXPECT_EQ(d.trailers()[1].value, "y z");
  }
}

// The caller's buffer is reused for the next bytes at once; the trailer
// fields it read must not point into it.
TEST(BodyDecoder, TrailersOutliveTheBufferTheyCameIn) {
  BodyDecoder d(Framing::chunked, 0);
  std::string in = "2\r\nok\r\n0\r\ngrpc-status: 0\r\n\r\n";
  ASSERT_TRUE(d.decode(span_of(in)).done);
  in.assign(in.size(), 'X');
  ASSERT_EQ(d.trailers().size(), 1u);
  EXPECT_EQ(d.trailers()[0].name, "grpc-status");
  EXPECT_EQ(d.trailers()[0].value, "0");
}

TEST(BodyDecoder, TrailerLimitsAreTheCallersAndOverThemTheBodyFails) {
  BodyDecoder d(Framing::chunked, 0, TrailerLimits{1, 1024});
  const Fed f = feed(d, "0\r\na: 1\r\nb: 2\r\n\r\n", 64);
  EXPECT_TRUE(f.error);
  EXPECT_TRUE(f.too_large) << "a size problem (431 for a request), not malformed framing";
  EXPECT_EQ(f.reason, "too many trailer fields");
  // It stays failed, and says why again.
  std::string more = "x";
  const auto again = d.decode(span_of(more));
  EXPECT_TRUE(again.error);
  EXPECT_TRUE(again.too_large);
}

TEST(BodyDecoder, MalformedTrailersAreNotASizeProblem) {
  BodyDecoder d(Framing::chunked, 0, TrailerLimits{8, 1024});
  const Fed f = feed(d, "0\r\nno colon\r\n\r\n", 64);
  EXPECT_TRUE(f.error);
  EXPECT_FALSE(f.too_large);
}

TEST(BodyDecoder, OtherFramingsHaveNoTrailers) {
  BodyDecoder length(Framing::content_length, 3);
  std::string in = "abc";
  ASSERT_TRUE(length.decode(span_of(in)).done);
  EXPECT_TRUE(length.trailers().empty());
  BodyDecoder none(Framing::none, 0);
  EXPECT_TRUE(none.trailers().empty());
}

TEST(BodyDecoder, MalformedChunkedFailsWithAReason) {
  struct Row {
    std::string_view input;
    std::string_view reason;
  };
  const Row rows[] = {
      {"zz\r\n", "chunk size missing"},
      {"5 junk\r\n", "white space in a chunk size line not followed by ';'"},
      {"3\r\nabcX", "chunk data not followed by CRLF"},
      {"11111111111111111\r\n", "chunk size too large"},
      {"0\r\nno colon\r\n\r\n", "invalid character in trailer name"},
  };
  for (const Row& row : rows) {
    for (std::size_t piece : {std::size_t{1}, row.input.size()}) {
      BodyDecoder d(Framing::chunked, 0);
      const Fed f = feed(d, row.input, piece);
      EXPECT_TRUE(f.error) << row.input;
      EXPECT_EQ(f.reason, row.reason) << row.input;
      EXPECT_FALSE(d.done());
      // Failed for good: again, even with nothing to decode.
      std::string more = "0\r\n\r\n";
      const auto r = d.decode(span_of(more));
      EXPECT_TRUE(r.error);
      EXPECT_EQ(std::string_view(r.reason), row.reason);
      EXPECT_EQ(r.consumed, 0u);
      const auto empty = d.decode({});
      EXPECT_TRUE(empty.error);
      EXPECT_FALSE(d.end_of_input());
    }
  }
}

TEST(BodyDecoder, ChunkedCutShortIsNotAnEnd) {
  BodyDecoder d(Framing::chunked, 0);
  std::string in = "5\r\nhel";
  const auto r = d.decode(span_of(in));
  EXPECT_EQ(r.data_bytes, 3u);
  EXPECT_FALSE(r.done);
  EXPECT_FALSE(d.end_of_input());
}

TEST(BodyDecoder, CloseDelimitedRunsUntilEndOfInput) {
  BodyDecoder d(Framing::close_delimited, 0);
  std::string first = "HTTP/1.1 looks like a head but is body";
  auto r = d.decode(span_of(first));
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(r.data_bytes, first.size());
  EXPECT_FALSE(r.done);
  std::string second = "more";
  r = d.decode(span_of(second));
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.body_bytes(), first.size() + 4);
  EXPECT_TRUE(d.end_of_input());
  EXPECT_TRUE(d.done());
  std::string after = "late";
  r = d.decode(span_of(after));
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(d.body_bytes(), first.size() + 4);
}

TEST(BodyDecoder, EmptyInputIsSafeForEveryFraming) {
  for (Framing framing :
       {Framing::none, Framing::content_length, Framing::chunked, Framing::close_delimited}) {
    BodyDecoder d(framing, 7);
    const auto r = d.decode({});
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_EQ(r.data_bytes, 0u);
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.done, framing == Framing::none);
    EXPECT_EQ(d.body_bytes(), 0u);
    EXPECT_EQ(d.framing(), framing);
  }
}

}  // namespace
}  // namespace sluice::http
