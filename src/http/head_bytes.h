// Finding the bytes an HTTP/1 head turns on (line feeds, control
// characters) sixteen at a time where the CPU has SSE2 (every x86-64), and
// eight at a time in a 64-bit word elsewhere. Only parser.cpp includes it.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::http::head_bytes {

constexpr std::size_t kNotFound = static_cast<std::size_t>(-1);

// The top bit of each byte of `w` (a little-endian load) that is below
// 0x20 or is 0x7f: a control character (RFC 9110 §5.5 allows only HTAB
// among them in a value), the line's CR among them. Bytes from 0x80 up
// (obs-text) never count. A borrow can mark a byte above a marked one, never
// below: the lowest mark is exact.
inline std::uint64_t control_bytes(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const std::uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  const std::uint64_t x = w ^ (kOnes * 0x7f);
  const std::uint64_t del = (x - kOnes) & ~x & kHigh;
  return below_space | del;
}

// The offset in [p, p + n) of the first control character, or n.
inline std::size_t find_control(const char* p, std::size_t n) {
  static_assert(std::endian::native == std::endian::little, "the lowest byte is the first");
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i below = _mm_set1_epi8(0x1f);
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Unsigned v <= 0x1f is min(v, 0x1f) == v.
    const __m128i control =
        _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, below), v), _mm_cmpeq_epi8(v, del));
    if (const int mask = _mm_movemask_epi8(control); mask != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(mask)));
    }
  }
  if (i < n && n >= 16) {
    // The last sixteen bytes, overlapping what the loop saw: one load for
    // the tail instead of a loop over it. Bits of bytes already seen are
    // dropped.
    const std::size_t last = n - 16;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + last));
    const __m128i control =
        _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, below), v), _mm_cmpeq_epi8(v, del));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(control)) >> (i - last);
    return mask != 0 ? i + static_cast<std::size_t>(std::countr_zero(mask)) : n;
  }
#endif
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, sizeof w);
    if (const std::uint64_t marks = control_bytes(w); marks != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(marks) / 8);
    }
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == 0x7f) return i;
  }
  return n;
}

// The offset of the first '\n' in [p + from, p + n), or kNotFound; all of
// [p, p + n) is readable. Inline and without a call into libc: a head's
// lines are short, and memchr's set-up cost more than the search on them.
inline std::size_t find_line_feed(const char* p, std::size_t from, std::size_t n) {
  std::size_t i = from;
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    if (const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)); mask != 0) {
      return i + static_cast<std::size_t>(std::countr_zero(static_cast<unsigned>(mask)));
    }
  }
  if (i < n && n >= 16) {
    // The tail in one load of the buffer's last sixteen bytes (a head's
    // last lines mostly end there), its bytes before i dropped.
    const std::size_t last = n - 16;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + last));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf))) >> (i - last);
    return mask != 0 ? i + static_cast<std::size_t>(std::countr_zero(mask)) : kNotFound;
  }
#endif
  const void* hit = i < n ? std::memchr(p + i, '\n', n - i) : nullptr;
  return hit == nullptr ? kNotFound : static_cast<std::size_t>(static_cast<const char*>(hit) - p);
}

// How many of the sixteen bytes at `p` (all readable), from the first, are
// letters, digits or '-': most of a field name, often all of it (a name
// may hold other token characters; the caller goes on byte by byte where
// this stops). 0 without SSE2.
inline std::size_t name_run(const char* p) {
#if defined(__SSE2__)
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // OR-ing 0x20 maps exactly 'A'-'Z' and 'a'-'z' into 'a'-'z'. Signed
  // compares: a byte from 0x80 up is negative, below every bound.
  const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
  const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                       _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
  const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
  const __m128i dash = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
  const auto taken =
      static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), dash)));
  return static_cast<std::size_t>(std::countr_zero(~taken));  // 16 when all are
#else
  (void)p;
  return 0;
#endif
}

}  // namespace sluice::http::head_bytes
