// Streaming encoders for the content codings the compress middleware
// applies (RFC 9110 §8.4.1): gzip (zlib), br (brotli) and zstd. One encoder
// per compressed response; what it holds is that response's memory cost
// (docs/middlewares/compress.md, "Memory").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/compress_config.h"

namespace sluice::middleware {

// The coding's name in Content-Encoding and Accept-Encoding.
std::string_view coding_name(config::Coding coding);

enum class EncodeStep : std::uint8_t {
  more,    // more input follows: output may lag behind the input
  flush,   // everything so far must be decodable from the output
  finish,  // the input is complete: end the stream
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Takes all of `in` and appends the encoded bytes produced to `out`.
  // Must not be called after a `finish`. False: the library failed.
  virtual bool encode(std::string_view in, EncodeStep step, std::string& out) = 0;
};

// An encoder for `coding` at `level` (the range config::CompressLevels
// allows). `size_hint`: the content's length when known (0: unknown); a
// small content gets a smaller window, so less memory. Null when the
// library cannot allocate its state.
std::unique_ptr<Encoder> make_encoder(config::Coding coding, int level, std::uint64_t size_hint);

// Bytes the encoding libraries hold now for every live encoder of the
// process (their allocations pass through a counting allocator): what a
// compressed response costs, for tests and the bench.
std::size_t encoder_bytes_in_use();

namespace detail {
// The libraries' allocator, shared by the encoder files.
void* counted_alloc(std::size_t bytes);
void counted_free(void* p);
// One factory per library, in encoder_<coding>.cpp.
std::unique_ptr<Encoder> make_gzip_encoder(int level, std::uint64_t size_hint);
std::unique_ptr<Encoder> make_brotli_encoder(int level, std::uint64_t size_hint);
std::unique_ptr<Encoder> make_zstd_encoder(int level, std::uint64_t size_hint);
}  // namespace detail

}  // namespace sluice::middleware
