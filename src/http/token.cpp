#include "http/token.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace sluice::http {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

// Declared extern in token.h, so this constant has external linkage.
constexpr std::array<bool, 256> kTokenChars = alphanumeric_and("!#$%&'*+-.^_`|~");

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kTokenChars[c]) return false;
  }
  return true;
}

namespace {

// The eight bytes of `w` with 'A'..'Z' lowered (0x20 added), the rest as
// they were: each byte's low seven bits offset so that its top bit says
// ">= 'A'" and "> 'Z'" (no carry crosses a byte), kept only for bytes
// below 0x80.
std::uint64_t lower_word(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const std::uint64_t low7 = w & ~kHigh;
  const std::uint64_t from_a = low7 + kOnes * (0x80 - 'A');
  const std::uint64_t past_z = low7 + kOnes * (0x80 - 'Z' - 1);
  const std::uint64_t upper = from_a & ~past_z & ~w & kHigh;
  return w | (upper >> 2);
}

bool words_iequal(const char* a, const char* b) {
  std::uint64_t wa;
  std::uint64_t wb;
  std::memcpy(&wa, a, sizeof wa);
  std::memcpy(&wb, b, sizeof wb);
  return lower_word(wa) == lower_word(wb);
}

}  // namespace

// Whole words only: the last word of a name of eight bytes or more is its
// last eight bytes (overlapping the word before), and a name of four to
// seven bytes is its first four and last four in one word. The bytes
// compared twice change nothing; a byte loop over a name's tail cost more
// than the words before it.
bool iequals_same_size(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      if (!words_iequal(a + i, b + i)) return false;
    }
    return words_iequal(a + n - 8, b + n - 8);
  }
  if (n >= 4) {
    std::uint32_t a_first;
    std::uint32_t a_last;
    std::uint32_t b_first;
    std::uint32_t b_last;
    std::memcpy(&a_first, a, 4);
    std::memcpy(&a_last, a + n - 4, 4);
    std::memcpy(&b_first, b, 4);
    std::memcpy(&b_last, b + n - 4, 4);
    return lower_word(a_first | std::uint64_t{a_last} << 32) ==
           lower_word(b_first | std::uint64_t{b_last} << 32);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool ListTokens::next(std::string_view& item) {
  while (!rest_.empty()) {
    const auto comma = rest_.find(',');
    std::string_view piece = rest_.substr(0, comma);
    rest_ = comma == std::string_view::npos ? std::string_view() : rest_.substr(comma + 1);
    while (!piece.empty() && (piece.front() == ' ' || piece.front() == '\t'))
      piece.remove_prefix(1);
    while (!piece.empty() && (piece.back() == ' ' || piece.back() == '\t'))
      piece.remove_suffix(1);
    if (!piece.empty()) {
      item = piece;
      return true;
    }
  }
  return false;
}

}  // namespace sluice::http
