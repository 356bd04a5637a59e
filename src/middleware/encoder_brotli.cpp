// br (RFC 7932) with the brotli library's streaming encoder.
#include <brotli/encode.h>

#include "middleware/content_coding.h"

namespace sluice::middleware {
namespace {

constexpr std::size_t kOutStep = 16 * 1024;
// A 64 KiB window (brotli's default is 4 MiB): a proxy's responses are
// mostly far smaller, and the window is per response. Below level 5 the
// window is not what costs: the hash table of levels 2 to 4 is 256 to 512
// KiB whatever the window (docs/middlewares/compress.md, "Memory").
constexpr int kMaxWindowBits = 16;

void* b_alloc(void*, size_t bytes) {
  return detail::counted_alloc(bytes);
}
void b_free(void*, void* p) {
  detail::counted_free(p);
}

class BrotliEncoder final : public Encoder {
 public:
  ~BrotliEncoder() override {
    if (s_) BrotliEncoderDestroyInstance(s_);
  }

  bool init(int level, std::uint64_t size_hint) {
    s_ = BrotliEncoderCreateInstance(b_alloc, b_free, nullptr);
    if (!s_) return false;
    int window_bits = kMaxWindowBits;
    while (size_hint != 0 && window_bits > BROTLI_MIN_WINDOW_BITS &&
           (std::uint64_t{1} << (window_bits - 1)) >= size_hint) {
      --window_bits;
    }
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(level));
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_LGWIN, static_cast<std::uint32_t>(window_bits));
    BrotliEncoderSetParameter(s_, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
    if (size_hint != 0 && size_hint < (1u << 30)) {
      BrotliEncoderSetParameter(s_, BROTLI_PARAM_SIZE_HINT, static_cast<std::uint32_t>(size_hint));
    }
    return true;
  }

  bool encode(std::string_view in, EncodeStep step, std::string& out) override {
    const BrotliEncoderOperation op = step == EncodeStep::finish  ? BROTLI_OPERATION_FINISH
                                      : step == EncodeStep::flush ? BROTLI_OPERATION_FLUSH
                                                                  : BROTLI_OPERATION_PROCESS;
    std::size_t avail_in = in.size();
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
    for (;;) {
      const std::size_t before = out.size();
      out.resize(before + kOutStep);
      std::size_t avail_out = kOutStep;
      auto* next_out = reinterpret_cast<std::uint8_t*>(out.data() + before);
      const bool ok =
          BrotliEncoderCompressStream(s_, op, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      out.resize(before + kOutStep - avail_out);
      if (!ok) return false;
      if (avail_in != 0 || BrotliEncoderHasMoreOutput(s_)) continue;
      if (op == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(s_)) continue;
      return true;
    }
  }

 private:
  BrotliEncoderState* s_ = nullptr;
};

}  // namespace

std::unique_ptr<Encoder> detail::make_brotli_encoder(int level, std::uint64_t size_hint) {
  auto e = std::make_unique<BrotliEncoder>();
  if (!e->init(level, size_hint)) return nullptr;
  return e;
}

}  // namespace sluice::middleware
