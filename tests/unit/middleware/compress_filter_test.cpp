// The compress middleware's response filter: which responses it codes,
// what it does to their heads, and that the coded body decodes, piece by
// piece, to the backend's bytes.
#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "http/token.h"
#include "middleware/content_coding.h"
#include "middleware/kinds.h"

namespace sluice::middleware {
namespace {

using config::Coding;

// Text that compresses as a web page does: repetitive markup, varied words.
std::string html(std::size_t bytes) {
  static const char* const kWords[] = {"proxy", "stream", "window", "sluice", "gate",
                                       "river", "header", "field",  "coding", "vary"};
  std::string s = "<!doctype html><html><head><title>t</title></head><body>\n";
  unsigned x = 12345;
  while (s.size() < bytes) {
    s += "<div class=\"item\"><a href=\"/items/";
    x = x * 1103515245 + 12345;
    s += std::to_string(x % 100000) + "\">";
    for (int i = 0; i < 6; ++i) {
      x = x * 1103515245 + 12345;
      s += kWords[(x >> 16) % 10];
      s += ' ';
    }
    s += "</a></div>\n";
  }
  s.resize(bytes);
  return s;
}

// Decoders, each keeping its state between pieces so that a test can see
// that every flushed piece decodes at once.
class Decoder {
 public:
  explicit Decoder(Coding c) : coding_(c) {
    switch (c) {
      case Coding::gzip:
        EXPECT_EQ(inflateInit2(&z_, 16 + 15), Z_OK);
        break;
      case Coding::br:
        br_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
        break;
      case Coding::zstd:
        zs_ = ZSTD_createDStream();
        break;
    }
  }
  ~Decoder() {
    if (coding_ == Coding::gzip) inflateEnd(&z_);
    if (br_) BrotliDecoderDestroyInstance(br_);
    if (zs_) ZSTD_freeDStream(zs_);
  }

  // Appends what `in` decodes to; false on an error.
  bool feed(std::string_view in, std::string& out) {
    char buf[8192];
    switch (coding_) {
      case Coding::gzip: {
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z_.avail_in = static_cast<uInt>(in.size());
        do {
          z_.next_out = reinterpret_cast<Bytef*>(buf);
          z_.avail_out = sizeof buf;
          const int rc = inflate(&z_, Z_SYNC_FLUSH);
          if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return false;
          out.append(buf, sizeof buf - z_.avail_out);
          if (rc == Z_STREAM_END) ended_ = true;
        } while (z_.avail_out == 0);
        return true;
      }
      case Coding::br: {
        std::size_t avail_in = in.size();
        const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
        for (;;) {
          std::size_t avail_out = sizeof buf;
          auto* next_out = reinterpret_cast<std::uint8_t*>(buf);
          const auto rc = BrotliDecoderDecompressStream(br_, &avail_in, &next_in, &avail_out,
                                                        &next_out, nullptr);
          out.append(buf, sizeof buf - avail_out);
          if (rc == BROTLI_DECODER_RESULT_ERROR) return false;
          if (rc == BROTLI_DECODER_RESULT_SUCCESS) ended_ = true;
          // The decoder may keep decoded bytes until asked again.
          if (rc != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT && !BrotliDecoderHasMoreOutput(br_)) {
            return true;
          }
        }
      }
      case Coding::zstd: {
        ZSTD_inBuffer input{in.data(), in.size(), 0};
        for (;;) {
          ZSTD_outBuffer output{buf, sizeof buf, 0};
          const std::size_t rc = ZSTD_decompressStream(zs_, &output, &input);
          if (ZSTD_isError(rc)) return false;
          out.append(buf, output.pos);
          if (rc == 0) ended_ = true;
          if (input.pos == input.size && output.pos < output.size) return true;
        }
      }
    }
    return false;
  }
  bool ended() const { return ended_; }

 private:
  Coding coding_;
  z_stream z_{};
  BrotliDecoderState* br_ = nullptr;
  ZSTD_DStream* zs_ = nullptr;
  bool ended_ = false;
};

config::Middleware definition(config::Compress settings = {}) {
  config::Middleware def;
  def.name = "gz";
  def.kind = config::MiddlewareKind::compress;
  def.compress = std::move(settings);
  return def;
}

Task<void> run_on_request(Middleware& m, const Request& r, std::unique_ptr<ResponseFilter>& filter,
                          bool& done) {
  Context ctx;
  RequestEdits edits;
  Answer answer;
  const Verdict v = co_await m.on_request(ctx, r, edits, answer, filter);
  EXPECT_EQ(v, Verdict::next);
  done = true;
}

// The filter the middleware makes for a request with these fields.
std::unique_ptr<ResponseFilter> filter_for(Middleware& m, std::vector<http::HeaderField> fields,
                                           std::string_view method = "GET") {
  Request r;
  r.method = method;
  r.fields = fields;
  std::unique_ptr<ResponseFilter> filter;
  bool done = false;
  run_on_request(m, r, filter, done).start_detached();
  EXPECT_TRUE(done) << "on_request suspended";
  return filter;
}

ResponseHead html_head(std::uint64_t length, bool length_known = true) {
  ResponseHead h;
  h.status = 200;
  h.fields = {{"Content-Type", "text/html; charset=utf-8"}, {"ETag", "\"abc\""}};
  h.has_body = true;
  h.length_known = length_known;
  h.length = length;
  return h;
}

std::size_t count(const ResponseHead& h, std::string_view name) {
  std::size_t n = 0;
  for (const auto& f : h.fields)
    n += http::iequals(f.name, name) ? 1 : 0;
  return n;
}

class CompressFilter : public ::testing::Test {
 protected:
  std::shared_ptr<Middleware> make(config::Compress settings = {}) {
    std::string error;
    auto m = make_compress(definition(std::move(settings)), BuildContext{}, error);
    EXPECT_TRUE(m) << error;
    return m;
  }
};

// ------------------------------------------------------------ the body

class CompressRoundTrip : public ::testing::TestWithParam<Coding> {};

TEST_P(CompressRoundTrip, EveryPieceDecodesAsSoonAsItIsOutAndTheWholeToTheOriginal) {
  std::string error;
  auto m = make_compress(definition(), BuildContext{}, error);
  ASSERT_TRUE(m);
  const Coding c = GetParam();
  auto f = filter_for(*m, {{"Accept-Encoding", coding_name(c)}});
  const std::string body = html(64 * 1024);
  ResponseHead head = html_head(body.size());
  f->on_head(head);
  ASSERT_TRUE(f->transforms_body());
  EXPECT_EQ(head.get("content-encoding"), coding_name(c));
  Decoder d(c);
  std::string decoded;
  std::size_t sent = 0;
  std::size_t coded = 0;
  for (std::size_t piece : {1u, 100u, 5000u, 16384u, 700u}) {
    std::string out;
    ASSERT_TRUE(f->on_body(std::string_view(body).substr(sent, piece), false, out));
    sent += piece;
    coded += out.size();
    ASSERT_TRUE(d.feed(out, decoded));
    // Flushed: what the client has decodes to everything sent so far.
    ASSERT_EQ(decoded, body.substr(0, sent)) << "after " << sent << " bytes";
  }
  std::string out;
  ASSERT_TRUE(f->on_body(std::string_view(body).substr(sent), true, out));
  coded += out.size();
  ASSERT_TRUE(d.feed(out, decoded));
  EXPECT_TRUE(d.ended());
  EXPECT_EQ(decoded, body);
  EXPECT_LT(coded, body.size() / 3);
  // Nothing follows the end of the stream.
  std::string after;
  EXPECT_TRUE(f->on_body({}, true, after));
  EXPECT_TRUE(after.empty());
}

TEST_P(CompressRoundTrip, AnEmptyBodyOfUnknownLengthIsAValidEmptyStream) {
  std::string error;
  auto m = make_compress(definition(), BuildContext{}, error);
  auto f = filter_for(*m, {{"Accept-Encoding", coding_name(GetParam())}});
  ResponseHead head = html_head(0, false);
  f->on_head(head);
  ASSERT_TRUE(f->transforms_body());
  std::string out;
  ASSERT_TRUE(f->on_body({}, true, out));
  Decoder d(GetParam());
  std::string decoded;
  ASSERT_TRUE(d.feed(out, decoded));
  EXPECT_TRUE(d.ended());
  EXPECT_EQ(decoded, "");
}

TEST_P(CompressRoundTrip, TheEncoderIsHeldOnlyWhileTheBodyStreamsAndStaysSmall) {
  std::string error;
  auto m = make_compress(definition(), BuildContext{}, error);
  auto f = filter_for(*m, {{"Accept-Encoding", coding_name(GetParam())}});
  ResponseHead head = html_head(0, false);  // unknown length: the largest window
  f->on_head(head);
  const std::size_t before = encoder_bytes_in_use();
  std::string out;
  ASSERT_TRUE(f->on_body(html(4096), false, out));
  const std::size_t held = encoder_bytes_in_use() - before;
  EXPECT_GT(held, 0u);
  // docs/middlewares/compress.md, "Memory": the figures per coding at
  // the default levels (brotli's level 4 hash table is most of its cost).
  const std::size_t bound = GetParam() == Coding::br ? 1024 * 1024 : 300 * 1024;
  EXPECT_LE(held, bound) << "bytes held by one " << coding_name(GetParam()) << " response";
  ASSERT_TRUE(f->on_body({}, true, out));
  EXPECT_EQ(encoder_bytes_in_use(), before);
}

INSTANTIATE_TEST_SUITE_P(Codings, CompressRoundTrip,
                         ::testing::Values(Coding::gzip, Coding::br, Coding::zstd),
                         [](const auto& p) { return std::string(coding_name(p.param)); });

// ------------------------------------------------------------ the head

TEST_F(CompressFilter, ACodedResponseIsStreamedWithVaryAndAWeakEtag) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(5000);
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "gzip");
  EXPECT_FALSE(h.length_known);
  EXPECT_EQ(h.get("vary"), "Accept-Encoding");
  EXPECT_EQ(h.get("etag"), "W/\"abc\"");
  EXPECT_TRUE(f->transforms_body());
}

TEST_F(CompressFilter, WithoutAcceptEncodingTheBodyIsUntouchedButVaryIsSaid) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept", "*/*"}});
  ResponseHead h = html_head(5000);
  f->on_head(h);
  EXPECT_FALSE(h.has("content-encoding"));
  EXPECT_TRUE(h.length_known);
  EXPECT_EQ(h.length, 5000u);
  EXPECT_EQ(h.get("vary"), "Accept-Encoding");
  EXPECT_EQ(h.get("etag"), "\"abc\"");
  EXPECT_FALSE(f->transforms_body());
}

TEST_F(CompressFilter, AClientRefusingEveryCodingGetsTheBodyAsItIsWithVary) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "deflate, br;q=0"}});
  ResponseHead h = html_head(5000);
  f->on_head(h);
  EXPECT_FALSE(h.has("content-encoding"));
  EXPECT_EQ(h.get("vary"), "Accept-Encoding");
  EXPECT_FALSE(f->transforms_body());
}

TEST_F(CompressFilter, SeveralAcceptEncodingFieldsMakeOneList) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip;q=0.5"}, {"Accept-Encoding", "zstd"}});
  ResponseHead h = html_head(5000);
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "zstd");
}

TEST_F(CompressFilter, VaryIsAppendedOnceAndNeverBesideAStar) {
  auto m = make();
  {
    auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
    ResponseHead h = html_head(5000);
    h.fields.push_back({"Vary", "Origin"});
    f->on_head(h);
    EXPECT_EQ(count(h, "vary"), 1u);
    EXPECT_EQ(h.get("vary"), "Origin, Accept-Encoding");
  }
  {
    auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
    ResponseHead h = html_head(5000);
    h.fields.push_back({"Vary", "origin, accept-encoding"});
    f->on_head(h);
    EXPECT_EQ(count(h, "vary"), 1u);
    EXPECT_EQ(h.get("vary"), "origin, accept-encoding");
  }
  {
    auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
    ResponseHead h = html_head(5000);
    h.fields.push_back({"Vary", "*"});
    f->on_head(h);
    EXPECT_EQ(h.get("vary"), "*");
    EXPECT_EQ(h.get("content-encoding"), "gzip");
  }
}

TEST_F(CompressFilter, AWeakEtagStaysAsItIs) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(5000);
  h.set("ETag", "W/\"v1\"");
  f->on_head(h);
  EXPECT_EQ(h.get("etag"), "W/\"v1\"");
}

TEST_F(CompressFilter, ABodyBelowMinSizeIsUntouchedAndDoesNotVary) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(1023);
  f->on_head(h);
  EXPECT_FALSE(h.has("content-encoding"));
  EXPECT_FALSE(h.has("vary"));
  EXPECT_TRUE(h.length_known);
  EXPECT_FALSE(f->transforms_body());
  auto g = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead at = html_head(1024);
  g->on_head(at);
  EXPECT_EQ(at.get("content-encoding"), "gzip");
}

TEST_F(CompressFilter, ABodyOfUnknownLengthIsCoded) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "br"}});
  ResponseHead h = html_head(0, false);
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "br");
  EXPECT_TRUE(f->transforms_body());
}

TEST_F(CompressFilter, TypesMatchWithoutParametersAndCaseWithWildcards) {
  auto m = make();
  auto coded = [&](std::string_view type) {
    auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
    ResponseHead h = html_head(5000);
    h.set("Content-Type", type);
    f->on_head(h);
    return h.has("content-encoding");
  };
  EXPECT_TRUE(coded("text/html"));
  EXPECT_TRUE(coded("TEXT/CSS"));
  EXPECT_TRUE(coded("application/json; charset=utf-8"));
  EXPECT_TRUE(coded("Application/JavaScript"));
  EXPECT_TRUE(coded("image/svg+xml"));
  EXPECT_FALSE(coded("image/png"));
  EXPECT_FALSE(coded("application/octet-stream"));
  EXPECT_FALSE(coded("application/jsonx"));
  EXPECT_FALSE(coded(""));
  config::Compress only;
  only.types = {"application/vnd.*", "text/plain"};
  auto custom = make(only);
  auto f = filter_for(*custom, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(5000);
  h.set("Content-Type", "application/vnd.api+json");
  f->on_head(h);
  EXPECT_TRUE(h.has("content-encoding"));
  auto g = filter_for(*custom, {{"Accept-Encoding", "gzip"}});
  ResponseHead html = html_head(5000);
  g->on_head(html);
  EXPECT_FALSE(html.has("content-encoding"));
}

TEST_F(CompressFilter, ServerSentEventsAreNeverCodedOrBuffered) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip, br, zstd"}});
  ResponseHead h = html_head(0, false);
  h.set("Content-Type", "Text/Event-Stream; charset=utf-8");
  f->on_head(h);
  EXPECT_FALSE(h.has("content-encoding"));
  EXPECT_FALSE(h.has("vary"));
  EXPECT_FALSE(f->transforms_body());
}

TEST_F(CompressFilter, AnAlreadyCodedResponseIsUntouched) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip, br"}});
  ResponseHead h = html_head(5000);
  h.fields.push_back({"Content-Encoding", "gzip"});
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "gzip");
  EXPECT_EQ(count(h, "content-encoding"), 1u);
  EXPECT_TRUE(h.length_known);
  EXPECT_EQ(h.get("etag"), "\"abc\"");
  EXPECT_FALSE(f->transforms_body());
}

TEST_F(CompressFilter, AnIdentityContentEncodingIsReplaced) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(5000);
  h.fields.push_back({"Content-Encoding", "identity"});
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "gzip");
  EXPECT_EQ(count(h, "content-encoding"), 1u);
}

TEST_F(CompressFilter, NoTransformIsRespected) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(5000);
  h.fields.push_back({"Cache-Control", "public, No-Transform, max-age=60"});
  f->on_head(h);
  EXPECT_FALSE(h.has("content-encoding"));
  EXPECT_FALSE(f->transforms_body());
}

TEST_F(CompressFilter, RangesAreNeverCoded) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead partial = html_head(5000);
  partial.status = 206;
  partial.fields.push_back({"Content-Range", "bytes 0-4999/90000"});
  f->on_head(partial);
  EXPECT_FALSE(partial.has("content-encoding"));
  EXPECT_FALSE(f->transforms_body());
  auto g = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead odd = html_head(5000);
  odd.fields.push_back({"Content-Range", "bytes 0-4999/90000"});
  g->on_head(odd);
  EXPECT_FALSE(odd.has("content-encoding"));
}

TEST_F(CompressFilter, ErrorPagesAreCodedLikeOthers) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
  ResponseHead h = html_head(5000);
  h.status = 404;
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "gzip");
}

TEST_F(CompressFilter, BodilessResponsesAreUntouched) {
  auto m = make();
  for (int status : {204, 304}) {
    auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}});
    ResponseHead h = html_head(0, false);
    h.status = status;
    h.has_body = false;
    f->on_head(h);
    EXPECT_FALSE(h.has("content-encoding")) << status;
    EXPECT_FALSE(h.has("vary")) << status;
    EXPECT_EQ(h.get("etag"), "\"abc\"") << status;
  }
}

TEST_F(CompressFilter, AHeadResponseSaysWhatTheGetWouldWithoutABody) {
  auto m = make();
  auto f = filter_for(*m, {{"Accept-Encoding", "gzip"}}, "HEAD");
  ResponseHead h = html_head(0, false);
  h.has_body = false;
  h.fields.push_back({"Content-Length", "5000"});
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "gzip");
  EXPECT_FALSE(h.has("content-length"));
  EXPECT_EQ(h.get("vary"), "Accept-Encoding");
  EXPECT_EQ(h.get("etag"), "W/\"abc\"");
  EXPECT_FALSE(f->transforms_body());
  auto small = filter_for(*m, {{"Accept-Encoding", "gzip"}}, "HEAD");
  ResponseHead s = html_head(0, false);
  s.has_body = false;
  s.fields.push_back({"Content-Length", "10"});
  small->on_head(s);
  EXPECT_FALSE(s.has("content-encoding"));
  EXPECT_EQ(s.get("content-length"), "10");
}

TEST_F(CompressFilter, OurOrderBreaksTiesAndTheLevelsAreUsed) {
  config::Compress gzip_first;
  gzip_first.algorithms = {Coding::gzip, Coding::br};
  gzip_first.level.gzip = 1;
  auto m = make(gzip_first);
  auto f = filter_for(*m, {{"Accept-Encoding", "br, gzip, zstd"}});
  ResponseHead h = html_head(0, false);
  f->on_head(h);
  EXPECT_EQ(h.get("content-encoding"), "gzip");
  std::string out;
  ASSERT_TRUE(f->on_body(html(20000), true, out));
  // RFC 1952 §2.3.1: XFL 4 is "fastest algorithm" (level 1).
  ASSERT_GT(out.size(), 9u);
  EXPECT_EQ(static_cast<unsigned char>(out[8]), 4u);
}

}  // namespace
}  // namespace sluice::middleware
