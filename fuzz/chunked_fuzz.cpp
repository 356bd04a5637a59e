// Chunked decoder oracle: the first input byte picks a split point, the
// rest is a chunked body. Decoded whole, in two pieces at that point, and
// one byte at a time, it must agree on data, trailer fields, where it
// ended, and failure. Decoded again with small trailer limits, it must
// agree with the default limits or fail only for its trailer section.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/chunked_decoder.h"
#include "http/token.h"

using sluice::http::ChunkedDecoder;
using sluice::http::TrailerLimits;

namespace {

// Small enough for a fuzzer's inputs to cross.
constexpr TrailerLimits kSmallLimits{3, 48};

struct Result {
  bool done = false;
  bool error = false;
  std::string reason;
  std::string data;
  std::string trailers;      // "name\0value\n" per field, when done
  std::size_t consumed = 0;  // where the body ended, when done

  bool operator==(const Result&) const = default;
};

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// Each field kept is a token name and a value without surrounding white
// space, within the limits.
std::string checked_trailers(const ChunkedDecoder& d, const TrailerLimits& limits) {
  std::string out;
  if (d.trailers().size() > limits.max_fields) std::abort();
  for (const auto& f : d.trailers()) {
    if (!sluice::http::is_token(f.name)) std::abort();
    if (!f.value.empty() && (is_space(f.value.front()) || is_space(f.value.back()))) std::abort();
    out.append(f.name).append(1, '\0').append(f.value).append("\n");
  }
  if (out.size() > limits.max_bytes) std::abort();  // each field is shorter there than on the wire
  return out;
}

// Feeds `in` in pieces ending at `cuts` (then at its end), as a connection
// delivers it: bytes not consumed stay for the next call.
Result decode(std::string_view in, std::vector<std::size_t> cuts, TrailerLimits limits = {}) {
  ChunkedDecoder d(limits);
  Result r;
  cuts.push_back(in.size());
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    if (cut < pos || cut > in.size()) continue;
    while (pos < cut) {
      const auto step = d.decode(in.substr(pos, cut - pos));
      if (step.consumed > cut - pos || step.data.size() != step.data_bytes) std::abort();
      if (step.error) {
        r.error = true;
        r.reason = step.reason;
        return r;
      }
      r.data.append(step.data);
      pos += step.consumed;
      if (step.done) {
        r.done = true;
        r.consumed = pos;
        if (d.body_bytes() != r.data.size()) std::abort();
        r.trailers = checked_trailers(d, limits);
        return r;
      }
      if (step.consumed == 0) break;
    }
  }
  return r;
}

// Whole, cut in two, and byte by byte: the same result.
Result decode_every_way(std::string_view in, std::size_t cut, TrailerLimits limits) {
  const Result whole = decode(in, {}, limits);
  if (!(decode(in, {cut}, limits) == whole)) std::abort();
  std::vector<std::size_t> every(in.size());
  for (std::size_t i = 0; i < every.size(); ++i)
    every[i] = i + 1;
  if (!(decode(in, every, limits) == whole)) std::abort();
  return whole;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = static_cast<std::size_t>(data[0]) * in.size() / 256;
  const Result full = decode_every_way(in, cut, TrailerLimits{});
  const Result small = decode_every_way(in, cut, kSmallLimits);
  // Tighter limits change nothing but a trailer section over them (the
  // default limits may then fail later, for another reason).
  const bool over_small_limits = small.error && (small.reason == "trailer section too large" ||
                                                 small.reason == "too many trailer fields");
  if (!(small == full) && !over_small_limits) std::abort();
  return 0;
}
