#include "middleware/content_coding.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace sluice::middleware {
namespace {

std::atomic<std::size_t> bytes_in_use{0};

// Each block starts with its size, so that free knows what to subtract;
// the header keeps the libraries' blocks aligned for any type.
constexpr std::size_t kHeader = alignof(std::max_align_t);

}  // namespace

std::string_view coding_name(config::Coding coding) {
  switch (coding) {
    case config::Coding::br:
      return "br";
    case config::Coding::zstd:
      return "zstd";
    case config::Coding::gzip:
      return "gzip";
  }
  return "identity";
}

std::unique_ptr<Encoder> make_encoder(config::Coding coding, int level, std::uint64_t size_hint) {
  switch (coding) {
    case config::Coding::br:
      return detail::make_brotli_encoder(level, size_hint);
    case config::Coding::zstd:
      return detail::make_zstd_encoder(level, size_hint);
    case config::Coding::gzip:
      return detail::make_gzip_encoder(level, size_hint);
  }
  return nullptr;
}

std::size_t encoder_bytes_in_use() {
  return bytes_in_use.load(std::memory_order_relaxed);
}

namespace detail {

void* counted_alloc(std::size_t bytes) {
  auto* block = static_cast<unsigned char*>(std::malloc(kHeader + bytes));
  if (!block) return nullptr;
  std::memcpy(block, &bytes, sizeof bytes);
  bytes_in_use.fetch_add(bytes, std::memory_order_relaxed);
  return block + kHeader;
}

void counted_free(void* p) {
  if (!p) return;
  auto* block = static_cast<unsigned char*>(p) - kHeader;
  std::size_t bytes = 0;
  std::memcpy(&bytes, block, sizeof bytes);
  bytes_in_use.fetch_sub(bytes, std::memory_order_relaxed);
  std::free(block);
}

}  // namespace detail
}  // namespace sluice::middleware
