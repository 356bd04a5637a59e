// Chunked decoder oracle: the first input byte picks a split point, the
// rest is a chunked body. Decoded whole, in two pieces at that point, and
// one byte at a time, it must agree on data, where it ended, and failure.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/chunked_decoder.h"

using sluice::http::ChunkedDecoder;

namespace {

struct Result {
  bool done = false;
  bool error = false;
  std::string data;
  std::size_t consumed = 0;  // where the body ended, when done

  bool operator==(const Result&) const = default;
};

// Feeds `in` in pieces ending at `cuts` (then at its end), as a connection
// delivers it: bytes not consumed stay for the next call.
Result decode(std::string_view in, std::vector<std::size_t> cuts) {
  ChunkedDecoder d;
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
        return r;
      }
      r.data.append(step.data);
      pos += step.consumed;
      if (step.done) {
        r.done = true;
        r.consumed = pos;
        if (d.body_bytes() != r.data.size()) std::abort();
        return r;
      }
      if (step.consumed == 0) break;
    }
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = static_cast<std::size_t>(data[0]) * in.size() / 256;
  const Result whole = decode(in, {});
  if (!(decode(in, {cut}) == whole)) std::abort();
  std::vector<std::size_t> every(in.size());
  for (std::size_t i = 0; i < every.size(); ++i)
    every[i] = i + 1;
  if (!(decode(in, every) == whole)) std::abort();
  return 0;
}
