#include "http/h1_encoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "http/head_writer.h"
#include "http/outgoing.h"

namespace sluice::http {
namespace {

constexpr std::string_view kAnnouncement = "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n";

// Large enough for every head here; the overflow tests use their own.
struct Buffer {
  std::array<char, 1024> bytes{};
  HeadWriter writer{std::span<char>(bytes)};
  std::string text() const { return std::string(writer.text()); }
};

TEST(H1Framing, ChosenFromTheBodyAndThePeersVersion) {
  struct Row {
    BodyKind body;
    int peer_minor;
    H1Framing expected;
  };
  const Row rows[] = {
      {BodyKind::none, 0, H1Framing::none},      {BodyKind::none, 1, H1Framing::none},
      {BodyKind::sized, 0, H1Framing::length},   {BodyKind::sized, 1, H1Framing::length},
      {BodyKind::streamed, 0, H1Framing::close}, {BodyKind::streamed, 1, H1Framing::chunked},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(choose_framing(r.body, r.peer_minor), r.expected)
        << "body " << static_cast<int>(r.body) << " to HTTP/1." << r.peer_minor;
  }
}

TEST(H1ConnectionFields, FollowTheVersionKeepAliveAndAnnouncement) {
  struct Row {
    int peer_minor;
    bool keep_alive;
    std::string_view announcement;
    std::string_view expected;
  };
  const Row rows[] = {
      {0, false, {}, "Connection: close\r\n"},
      {0, false, kAnnouncement, "Connection: close\r\n"},
      {1, false, {}, "Connection: close\r\n"},
      {1, false, kAnnouncement, "Connection: close\r\n"},
      {0, true, {}, "Connection: keep-alive\r\n"},
      {0, true, kAnnouncement, kAnnouncement},
      {1, true, {}, ""},
      {1, true, kAnnouncement, kAnnouncement},
  };
  for (const Row& r : rows) {
    Buffer b;
    write_connection_fields(b.writer, {r.peer_minor, r.keep_alive, r.announcement});
    EXPECT_EQ(b.text(), r.expected) << "HTTP/1." << r.peer_minor << " keep_alive " << r.keep_alive
                                    << " announce " << !r.announcement.empty();
  }
}

// Every framing against every persistence: the head is the status line,
// the fields, the framing field, the Connection fields and the blank line,
// in that order.
TEST(H1ResponseHead, EveryFramingWithEveryPersistence) {
  struct FramingRow {
    H1Framing framing;
    std::string_view field;
  };
  const FramingRow framings[] = {
      {H1Framing::none, ""},
      {H1Framing::length, "Content-Length: 1234567890123\r\n"},
      {H1Framing::chunked, "Transfer-Encoding: chunked\r\n"},
      {H1Framing::close, ""},
  };
  struct PersistenceRow {
    H1Persistence p;
    std::string_view fields;
  };
  const PersistenceRow persistences[] = {
      {{0, false, {}}, "Connection: close\r\n"},
      {{0, false, kAnnouncement}, "Connection: close\r\n"},
      {{1, false, {}}, "Connection: close\r\n"},
      {{1, false, kAnnouncement}, "Connection: close\r\n"},
      {{0, true, {}}, "Connection: keep-alive\r\n"},
      {{0, true, kAnnouncement}, kAnnouncement},
      {{1, true, {}}, ""},
      {{1, true, kAnnouncement}, kAnnouncement},
  };
  const HeaderField fields[] = {{"Content-Type", "text/plain"}, {"X-A", "b"}};
  OutgoingResponse res;
  res.status = 200;
  res.fields = fields;
  res.body = BodyKind::sized;
  res.length = 1234567890123;
  for (const FramingRow& f : framings) {
    for (const PersistenceRow& p : persistences) {
      Buffer b;
      ASSERT_TRUE(encode_response_head(b.writer, res, f.framing, p.p));
      EXPECT_EQ(b.text(), std::string("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: b\r\n") +
                              std::string(f.field) + std::string(p.fields) + "\r\n")
          << "framing " << static_cast<int>(f.framing) << " HTTP/1." << p.p.peer_minor
          << " keep_alive " << p.p.keep_alive << " announce " << !p.p.keep_alive_fields.empty();
    }
  }
}

TEST(H1ResponseHead, ExtraLinesGoAfterTheFieldsAndBeforeTheFraming) {
  const HeaderField fields[] = {{"X-A", "b"}};
  OutgoingResponse res;
  res.status = 201;
  res.fields = fields;
  res.length = 0;
  Buffer b;
  ASSERT_TRUE(encode_response_head(b.writer, res, H1Framing::length, {1, false, {}},
                                   "Set-Cookie: s=1; Path=/; HttpOnly\r\n"));
  EXPECT_EQ(b.text(),
            "HTTP/1.1 201 Created\r\nX-A: b\r\nSet-Cookie: s=1; Path=/; HttpOnly\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST(H1ResponseHead, TheServersReasonPhraseIsKept) {
  OutgoingResponse res;
  res.status = 404;
  res.reason = "Nothing Here";
  Buffer b;
  ASSERT_TRUE(encode_response_head(b.writer, res, H1Framing::none, {}));
  EXPECT_EQ(b.text(), "HTTP/1.1 404 Nothing Here\r\n\r\n");
}

TEST(H1ResponseHead, AnUnknownStatusGetsItsClassReason) {
  OutgoingResponse res;
  res.status = 299;
  Buffer b;
  ASSERT_TRUE(encode_response_head(b.writer, res, H1Framing::none, {}));
  EXPECT_EQ(b.text(), "HTTP/1.1 299 Success\r\n\r\n");
}

TEST(H1ResponseHead, SwitchingProtocolsSaysConnectionUpgradeInsteadOfPersistence) {
  const HeaderField fields[] = {{"Upgrade", "websocket"}, {"Sec-WebSocket-Accept", "abc="}};
  OutgoingResponse res;
  res.status = 101;
  res.fields = fields;
  res.upgrade = true;
  for (const H1Persistence& p : {H1Persistence{1, true, {}}, H1Persistence{1, false, {}},
                                 H1Persistence{0, true, kAnnouncement}}) {
    Buffer b;
    ASSERT_TRUE(encode_response_head(b.writer, res, H1Framing::none, p));
    EXPECT_EQ(b.text(),
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Sec-WebSocket-Accept: abc=\r\nConnection: upgrade\r\n\r\n");
  }
}

TEST(H1Interim, EarlyHintsCarryTheirFields) {
  const HeaderField fields[] = {{"Link", "</a.css>; rel=preload"},
                                {"Link", "</b.js>; rel=preload"}};
  OutgoingResponse res;
  res.status = 103;
  res.fields = fields;
  Buffer b;
  ASSERT_TRUE(encode_interim(b.writer, res));
  EXPECT_EQ(b.text(),
            "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
            "Link: </b.js>; rel=preload\r\n\r\n");
}

TEST(H1Interim, ContinueIsTheStandardLine) {
  EXPECT_EQ(kContinue, "HTTP/1.1 100 Continue\r\n\r\n");
  OutgoingResponse res;
  res.status = 100;
  Buffer b;
  ASSERT_TRUE(encode_interim(b.writer, res));
  EXPECT_EQ(b.text(), kContinue);
}

TEST(H1RequestHead, HostFirstThenFieldsInOrder) {
  const HeaderField fields[] = {{"Accept", "*/*"}, {"X-B", "2"}, {"x-a", "1"}};
  OutgoingRequest req;
  req.method = "GET";
  req.target = "/a/b?c=d";
  req.authority = "example.com:8080";
  req.fields = fields;
  Buffer b;
  ASSERT_TRUE(encode_request_head(b.writer, req));
  EXPECT_EQ(b.text(),
            "GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nX-B: 2\r\n"
            "x-a: 1\r\n\r\n");
}

TEST(H1RequestHead, RequestLineAndFraming) {
  const HeaderField fields[] = {{"X-A", "b"}};
  struct Row {
    const char* name;
    std::string_view method;
    std::string_view target;
    BodyKind body;
    std::uint64_t length;
    std::string_view expected;
  };
  const Row rows[] = {
      {"a query-only target gets its slash", "GET", "?q=1", BodyKind::none, 0,
       "GET /?q=1 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n"},
      {"CONNECT keeps the authority form", "CONNECT", "example.com:443", BodyKind::none, 0,
       "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n"},
      {"asterisk form", "OPTIONS", "*", BodyKind::none, 0,
       "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n"},
      {"a sized empty body says Content-Length: 0", "POST", "/", BodyKind::sized, 0,
       "POST / HTTP/1.1\r\nHost: h\r\nX-A: b\r\nContent-Length: 0\r\n\r\n"},
      {"a sized body says its length", "PUT", "/f", BodyKind::sized, 18446744073709551615u,
       "PUT /f HTTP/1.1\r\nHost: h\r\nX-A: b\r\nContent-Length: 18446744073709551615\r\n\r\n"},
      {"a streamed body goes chunked", "POST", "/up", BodyKind::streamed, 0,
       "POST /up HTTP/1.1\r\nHost: h\r\nX-A: b\r\nTransfer-Encoding: chunked\r\n\r\n"},
  };
  for (const Row& r : rows) {
    OutgoingRequest req;
    req.method = r.method;
    req.target = r.target;
    req.authority = "h";
    req.fields = fields;
    req.body = r.body;
    req.length = r.length;
    Buffer b;
    ASSERT_TRUE(encode_request_head(b.writer, req)) << r.name;
    EXPECT_EQ(b.text(), r.expected) << r.name;
  }
}

TEST(H1RequestHead, UpgradeComesAfterTheFraming) {
  const HeaderField fields[] = {{"Upgrade", "websocket"}};
  OutgoingRequest req;
  req.method = "GET";
  req.target = "/chat";
  req.authority = "h";
  req.fields = fields;
  req.body = BodyKind::sized;
  req.length = 0;
  req.upgrade = true;
  Buffer b;
  ASSERT_TRUE(encode_request_head(b.writer, req));
  EXPECT_EQ(b.text(),
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nContent-Length: 0\r\n"
            "Connection: upgrade\r\n\r\n");
}

// Each head fits a buffer of exactly its size and overflows one byte less.
TEST(H1Overflow, AHeadOneByteTooBigForTheBufferFails) {
  const HeaderField fields[] = {{"X-A", "b"}};
  OutgoingRequest req;
  req.method = "POST";
  req.target = "/";
  req.authority = "h";
  req.fields = fields;
  req.body = BodyKind::sized;
  req.length = 5;
  req.upgrade = true;
  OutgoingResponse res;
  res.status = 200;
  res.fields = fields;
  res.length = 5;
  OutgoingResponse hint;
  hint.status = 103;
  hint.fields = fields;
  const H1Persistence p{0, true, kAnnouncement};
  struct Row {
    const char* name;
    std::function<bool(HeadWriter&)> encode;
  };
  const Row rows[] = {
      {"request", [&](HeadWriter& w) { return encode_request_head(w, req); }},
      {"response",
       [&](HeadWriter& w) {
         return encode_response_head(w, res, H1Framing::length, p, "Date: x\r\n");
       }},
      {"interim", [&](HeadWriter& w) { return encode_interim(w, hint); }},
  };
  for (const Row& r : rows) {
    Buffer big;
    ASSERT_TRUE(r.encode(big.writer)) << r.name;
    const std::size_t size = big.writer.size();
    std::string exact(size, '\0');
    HeadWriter fits{std::span<char>(exact)};
    EXPECT_TRUE(r.encode(fits)) << r.name;
    EXPECT_EQ(fits.text(), big.writer.text()) << r.name;
    std::string short_by_one(size - 1, '\0');
    HeadWriter too_small{std::span<char>(short_by_one)};
    EXPECT_FALSE(r.encode(too_small)) << r.name;
    std::array<char, 8> tiny{};
    HeadWriter tiny_writer{std::span<char>(tiny)};
    EXPECT_FALSE(r.encode(tiny_writer)) << r.name;
  }
}

TEST(H1ChunkFraming, SizeLineInHexAndTheEnds) {
  char out[18];
  EXPECT_EQ(std::string(out, write_chunk_header(out, 0x1a)), "1a\r\n");
  EXPECT_EQ(std::string(out, write_chunk_header(out, 1)), "1\r\n");
  EXPECT_EQ(std::string(out, write_chunk_header(out, UINT64_MAX)), "ffffffffffffffff\r\n");
  EXPECT_EQ(kChunkEnd, "\r\n");
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

// RFC 9112 §7.1.2: last-chunk, the trailer fields, and the blank line.
TEST(H1LastChunk, CarriesTheTrailerFieldsInOrder) {
  Buffer b;
  const HeaderField trailers[] = {{"grpc-status", "0"}, {"grpc-message", "all good"}};
  ASSERT_TRUE(encode_last_chunk(b.writer, trailers));
  EXPECT_EQ(b.text(), "0\r\ngrpc-status: 0\r\ngrpc-message: all good\r\n\r\n");
}

TEST(H1LastChunk, WithoutTrailersIsThePlainLastChunk) {
  Buffer b;
  ASSERT_TRUE(encode_last_chunk(b.writer, {}));
  EXPECT_EQ(b.writer.text(), kLastChunk);
}

TEST(H1LastChunk, OneByteTooBigForTheBufferFails) {
  const HeaderField trailers[] = {{"x-checksum", "abc"}};
  const std::string_view expected = "0\r\nx-checksum: abc\r\n\r\n";
  std::string exact(expected.size(), '\0');
  HeadWriter fits{std::span<char>(exact)};
  EXPECT_TRUE(encode_last_chunk(fits, trailers));
  EXPECT_EQ(fits.text(), expected);
  std::string short_by_one(expected.size() - 1, '\0');
  HeadWriter too_small{std::span<char>(short_by_one)};
  EXPECT_FALSE(encode_last_chunk(too_small, trailers));
}

}  // namespace
}  // namespace sluice::http

namespace sluice::http {
namespace {

// One piece of a chunked body: size line, data's CRLF, last chunk at the end.
TEST(ChunkFrameTest, FramesEachPieceAndTheEnd) {
  struct Row {
    std::size_t size;
    bool end;
    const char* before;
    const char* after;
  };
  const Row rows[] = {
      {5, false, "5\r\n", "\r\n"},
      {26, false, "1a\r\n", "\r\n"},
      {5, true, "5\r\n", "\r\n0\r\n\r\n"},
      {0, true, "", "0\r\n\r\n"},
      {0, false, "", ""},
  };
  for (const Row& r : rows) {
    char line[18];
    const ChunkFrame f = frame_chunk(line, r.size, r.end);
    EXPECT_EQ(f.before, r.before) << r.size << (r.end ? " end" : "");
    EXPECT_EQ(f.after, r.after) << r.size << (r.end ? " end" : "");
  }
}

}  // namespace
}  // namespace sluice::http
