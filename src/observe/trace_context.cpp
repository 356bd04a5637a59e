#include "observe/trace_context.h"

#include <sys/random.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <thread>

namespace sluice::observe {
namespace {

// §3.2: HEXDIGLC, lowercase only ("00-AB..." is invalid).
bool lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zeros(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

int hex_value(char c) {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

// xoshiro256** (Blackman and Vigna): four words of state, a few cycles per
// number, 2^256 - 1 period.
class Xoshiro {
 public:
  Xoshiro() {
    // getrandom never fails for 32 bytes once the pool is ready; should it,
    // the clock and the thread id still keep workers' sequences apart.
    if (getrandom(s_, sizeof s_, 0) != static_cast<ssize_t>(sizeof s_)) {
      std::uint64_t x =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      x ^= std::hash<std::thread::id>{}(std::this_thread::get_id());
      for (auto& w : s_)
        w = splitmix(x);
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one state that never leaves
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
};

// The eight hex digits of `x` (32 bits), most significant first, as the
// eight bytes of a little-endian word: each nibble spread to its own byte,
// the bytes put in digit order, then '0' added to each and 39 more ('a' -
// '0' - 10) to those from 10 up. A request id costs every request this.
std::uint64_t hex_word(std::uint64_t x) {
  static_assert(std::endian::native == std::endian::little, "the first digit is the lowest byte");
  x = ((x << 16) | x) & 0x0000ffff0000ffffULL;
  x = ((x << 8) | x) & 0x00ff00ff00ff00ffULL;
  x = ((x << 4) | x) & 0x0f0f0f0f0f0f0f0fULL;
  x = __builtin_bswap64(x);
  const std::uint64_t from_ten = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
  return x + 0x3030303030303030ULL + from_ten * 39;
}

// The 16 hex digits of `bits`, most significant first.
void hex16(std::uint64_t bits, char* out) {
  const std::uint64_t high = hex_word(bits >> 32);
  const std::uint64_t low = hex_word(bits & 0xffffffffULL);
  std::memcpy(out, &high, 8);
  std::memcpy(out + 8, &low, 8);
}

// The first `digits` (at most 16) hex digits of `bits`.
void hex_of(std::uint64_t bits, char* out, std::size_t digits) {
  char all[16];
  hex16(bits, all);
  std::memcpy(out, all, digits);
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (v.size() < kTraceParentLength) return std::nullopt;
  const std::string_view version = v.substr(0, 2);
  if (!lower_hex(version) || version == "ff") return std::nullopt;
  // §3.2.2.1: version 00 has exactly these four fields; a later one may
  // append more after a '-' (§4.3).
  if (version == "00" ? v.size() != kTraceParentLength
                      : v.size() > kTraceParentLength && v[kTraceParentLength] != '-') {
    return std::nullopt;
  }
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  const std::string_view trace = v.substr(3, 32);
  const std::string_view parent = v.substr(36, 16);
  const std::string_view flags = v.substr(53, 2);
  if (!lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags)) return std::nullopt;
  if (all_zeros(trace) || all_zeros(parent)) return std::nullopt;  // §3.2.2.3, §3.2.2.4
  TraceParent out;
  std::memcpy(out.trace_id.data(), trace.data(), trace.size());
  std::memcpy(out.parent_id.data(), parent.data(), parent.size());
  out.flags = static_cast<std::uint8_t>(hex_value(flags[0]) * 16 + hex_value(flags[1]));
  return out;
}

std::array<char, kTraceParentLength> format_traceparent(const TraceContext& trace) {
  std::array<char, kTraceParentLength> out{};
  char* p = out.data();
  *p++ = '0';
  *p++ = '0';
  *p++ = '-';
  std::memcpy(p, trace.trace_id.data(), trace.trace_id.size());
  p += trace.trace_id.size();
  *p++ = '-';
  std::memcpy(p, trace.span_id.data(), trace.span_id.size());
  p += trace.span_id.size();
  *p++ = '-';
  *p++ = '0';
  *p = trace.sampled ? '1' : '0';
  return out;
}

std::uint64_t random_u64() {
  // One generator per thread: each worker draws from its own, no lock, no
  // shared cache line.
  thread_local Xoshiro generator;
  return generator.next();
}

void random_hex_id(char* out, std::size_t hex_digits) {
  bool zero = true;
  while (zero) {
    for (std::size_t i = 0; i < hex_digits; i += 16) {
      const std::size_t n = hex_digits - i < 16 ? hex_digits - i : 16;
      const std::uint64_t bits = random_u64();
      zero = zero && (bits >> (64 - 4 * n)) == 0;
      hex_of(bits, out + i, n);
    }
  }
}

void random_uuid(char* out) {
  std::uint64_t hi = random_u64();
  std::uint64_t lo = random_u64();
  // RFC 9562 §5.4: version 4 in octet 6's high nibble (the 13th digit),
  // variant 10 in octet 8's two high bits.
  hi = (hi & ~0xf000ULL) | 0x4000ULL;
  lo = (lo & ~(0x3ULL << 62)) | (0x2ULL << 62);
  char h[16];
  char l[16];
  hex16(hi, h);
  hex16(lo, l);
  // 8-4-4-4-12
  std::memcpy(out, h, 8);
  out[8] = '-';
  std::memcpy(out + 9, h + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, h + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, l, 4);
  out[23] = '-';
  std::memcpy(out + 24, l + 4, 12);
}

std::uint64_t sample_threshold(double probability) {
  if (!(probability > 0.0)) return 0;
  if (probability >= 1.0) return UINT64_MAX;
  // 2^64 * p, below 2^64 since p < 1.
  return static_cast<std::uint64_t>(probability * 18446744073709551616.0);
}

bool acceptable_request_id(std::string_view id, std::size_t max_bytes) {
  if (id.empty() || id.size() > max_bytes) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace sluice::observe
