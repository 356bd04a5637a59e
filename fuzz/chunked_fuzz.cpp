// Chunked decoder: decoding all at once and byte-group by byte-group must
// agree on data, completion and failure.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/chunked_decoder.h"

using sluice::http::ChunkedDecoder;

namespace {

struct Result {
  bool done = false;
  bool error = false;
  std::string data;
};

Result decode(std::string_view in, std::size_t piece) {
  ChunkedDecoder d;
  Result r;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const std::size_t end = std::min(in.size(), pos + piece);
    while (pos < end) {
      auto step = d.decode(in.substr(pos, end - pos));
      if (step.error) {
        r.error = true;
        return r;
      }
      if (step.consumed > end - pos) std::abort();
      r.data.append(step.data);
      pos += step.consumed;
      if (step.done) {
        r.done = true;
        return r;
      }
      if (step.consumed == 0) break;
    }
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Result whole = decode(in, size == 0 ? 1 : size);
  const Result pieces = decode(in, 1 + (size > 0 ? data[0] % 7 : 0));
  if (whole.done != pieces.done || whole.error != pieces.error || whole.data != pieces.data) {
    std::abort();
  }
  return 0;
}
