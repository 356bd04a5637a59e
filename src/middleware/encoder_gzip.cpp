// gzip (RFC 1952) with zlib's deflate.
#include <zlib.h>

#include "middleware/content_coding.h"

namespace sluice::middleware {
namespace {

constexpr std::size_t kOutStep = 16 * 1024;

void* z_alloc(void*, uInt items, uInt size) {
  return detail::counted_alloc(static_cast<std::size_t>(items) * size);
}
void z_free(void*, void* p) {
  detail::counted_free(p);
}

class GzipEncoder final : public Encoder {
 public:
  ~GzipEncoder() override {
    if (ready_) deflateEnd(&z_);
  }

  bool init(int level, std::uint64_t size_hint) {
    z_.zalloc = z_alloc;
    z_.zfree = z_free;
    z_.opaque = nullptr;
    // A 32 KiB window (the most deflate has) and memLevel 8: ~256 KiB of
    // state. A content known to be smaller gets a window just over its
    // size and a hash table to match, as nginx does: less memory, the same
    // output.
    int window_bits = 15;
    int mem_level = 8;
    if (size_hint != 0) {
      while (window_bits > 9 && (std::uint64_t{1} << (window_bits - 1)) >= size_hint) {
        --window_bits;
        if (mem_level > 1) --mem_level;
      }
    }
    // 16 + windowBits: a gzip header and trailer around the deflate stream.
    ready_ = deflateInit2(&z_, level, Z_DEFLATED, 16 + window_bits, mem_level,
                          Z_DEFAULT_STRATEGY) == Z_OK;
    return ready_;
  }

  bool encode(std::string_view in, EncodeStep step, std::string& out) override {
    const int flush = step == EncodeStep::finish  ? Z_FINISH
                      : step == EncodeStep::flush ? Z_SYNC_FLUSH
                                                  : Z_NO_FLUSH;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      const std::size_t before = out.size();
      out.resize(before + kOutStep);
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
      z_.avail_out = static_cast<uInt>(kOutStep);
      const int rc = deflate(&z_, flush);
      out.resize(before + kOutStep - z_.avail_out);
      if (rc == Z_STREAM_END) return true;
      // Z_BUF_ERROR: nothing left to do (not an error in a loop like this).
      if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
      // Room left in the output: deflate took all the input and wrote all
      // it had to (for Z_FINISH it returns Z_STREAM_END instead).
      if (z_.avail_out != 0 && flush != Z_FINISH) return true;
    }
  }

 private:
  z_stream z_{};
  bool ready_ = false;
};

}  // namespace

std::unique_ptr<Encoder> detail::make_gzip_encoder(int level, std::uint64_t size_hint) {
  auto e = std::make_unique<GzipEncoder>();
  if (!e->init(level, size_hint)) return nullptr;
  return e;
}

}  // namespace sluice::middleware
