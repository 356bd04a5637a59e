// zstd (RFC 8878) with libzstd's streaming compressor.
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_createCStream_advanced: our allocator
#include <zstd.h>

#include <algorithm>

#include "middleware/content_coding.h"

namespace sluice::middleware {
namespace {

constexpr std::size_t kOutStep = 16 * 1024;
// A 32 KiB window, deflate's, and hash tables of 4K entries: about
// 270 KiB per response at level 3, where zstd's own parameters (a 2 MiB
// window, 768 KiB of tables) would cost 3 MiB. Measured on 64 KiB of HTML
// flushed every 16 KiB: 64 KiB windows cost twice the memory for the same
// ratio; 16 KiB halves it again for 5% more bytes
// (docs/middlewares/compress.md, "Memory").
constexpr int kMaxWindowLog = 15;

void* z_alloc(void*, size_t bytes) {
  return detail::counted_alloc(bytes);
}
void z_free(void*, void* p) {
  detail::counted_free(p);
}

class ZstdEncoder final : public Encoder {
 public:
  ~ZstdEncoder() override { ZSTD_freeCStream(s_); }

  bool init(int level, std::uint64_t size_hint) {
    s_ = ZSTD_createCStream_advanced(ZSTD_customMem{z_alloc, z_free, nullptr});
    if (!s_) return false;
    int window_log = kMaxWindowLog;
    while (size_hint != 0 && window_log > ZSTD_WINDOWLOG_MIN &&
           (std::uint64_t{1} << (window_log - 1)) >= size_hint) {
      --window_log;
    }
    const ZSTD_compressionParameters defaults = ZSTD_getCParams(level, 0, 0);
    const int table_log = window_log - 3;
    return ok(ZSTD_CCtx_setParameter(s_, ZSTD_c_compressionLevel, level)) &&
           ok(ZSTD_CCtx_setParameter(s_, ZSTD_c_windowLog, window_log)) &&
           ok(ZSTD_CCtx_setParameter(s_, ZSTD_c_hashLog,
                                     std::min(static_cast<int>(defaults.hashLog), table_log))) &&
           ok(ZSTD_CCtx_setParameter(s_, ZSTD_c_chainLog,
                                     std::min(static_cast<int>(defaults.chainLog), table_log))) &&
           // The frame says how much it holds: decoders stop at it, and
           // none is needed beyond the stream's end.
           ok(ZSTD_CCtx_setParameter(s_, ZSTD_c_checksumFlag, 0));
  }

  bool encode(std::string_view in, EncodeStep step, std::string& out) override {
    const ZSTD_EndDirective mode = step == EncodeStep::finish  ? ZSTD_e_end
                                   : step == EncodeStep::flush ? ZSTD_e_flush
                                                               : ZSTD_e_continue;
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      const std::size_t before = out.size();
      out.resize(before + kOutStep);
      ZSTD_outBuffer output{out.data() + before, kOutStep, 0};
      const std::size_t left = ZSTD_compressStream2(s_, &output, &input, mode);
      out.resize(before + output.pos);
      if (ZSTD_isError(left)) return false;
      // ZSTD_e_continue: done once it took all the input; flush and end:
      // once nothing is left to write.
      if (mode == ZSTD_e_continue ? input.pos == input.size : left == 0) return true;
    }
  }

 private:
  static bool ok(std::size_t rc) { return !ZSTD_isError(rc); }

  ZSTD_CStream* s_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> detail::make_zstd_encoder(int level, std::uint64_t size_hint) {
  auto e = std::make_unique<ZstdEncoder>();
  if (!e->init(level, size_hint)) return nullptr;
  return e;
}

}  // namespace sluice::middleware
