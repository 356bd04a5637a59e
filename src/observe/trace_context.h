// Request ids and W3C trace context (https://www.w3.org/TR/trace-context/):
// the `traceparent` field read strictly and written, and the random ids a
// worker makes for requests, traces and spans. No system call per request:
// each thread's generator is seeded once from getrandom(2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "observe/request_record.h"

namespace sluice::observe {

// A traceparent field as received (§3.2): the caller's trace, its span
// (our parent) and its flags.
struct TraceParent {
  std::array<char, 32> trace_id{};  // lowercase hex, not all zeros
  std::array<char, 16> parent_id{};
  std::uint8_t flags = 0;
  bool sampled() const { return (flags & 0x01) != 0; }
};

// The length of the traceparent we write: "00-" trace "-" span "-" flags.
inline constexpr std::size_t kTraceParentLength = 55;

// Parses a traceparent value by §3.2 and §4.3: lowercase hex only, version
// 00 exactly 55 characters, ids not all zeros, version ff refused. A later
// version is read for its first four fields when they are followed by the
// end or a '-' (§4.3: "parse it by trying..."). nullopt: not valid, and
// the receiver starts a new trace.
std::optional<TraceParent> parse_traceparent(std::string_view value);

// "00-<trace>-<span>-0x" for `trace` (valid): its trace id, our span id as
// the parent the next hop sees, and only the sampled flag (§3.2.2.5: the
// other bits of version 00 are written as 0).
std::array<char, kTraceParentLength> format_traceparent(const TraceContext& trace);

// Random bits from this thread's generator (xoshiro256**), seeded from
// getrandom on the thread's first call. Fast, not for secrets: ids only.
std::uint64_t random_u64();

// Fills `out` with lowercase hex of random bits, never all zeros (§3.2.2.3:
// an all-zero trace or parent id is invalid).
void random_hex_id(char* out, std::size_t hex_digits);

// A version 4 UUID (RFC 9562 §5.4) in its 36-character text form, lowercase.
inline constexpr std::size_t kUuidLength = 36;
void random_uuid(char* out);

// True when a sampling probability of `threshold` / 2^64 picks this one;
// sample_threshold(1.0) always picks, sample_threshold(0.0) never does.
std::uint64_t sample_threshold(double probability);
inline bool pick_sampled(std::uint64_t threshold) {
  return threshold == UINT64_MAX || random_u64() < threshold;
}

// A request id we may keep from a trusted client: 1 to `max_bytes` visible
// ASCII characters (0x21-0x7e), so it is safe in a log line, a JSON string
// escape aside, and a header field.
bool acceptable_request_id(std::string_view id, std::size_t max_bytes);

}  // namespace sluice::observe
