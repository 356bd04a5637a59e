// Request parser: any bytes, parsed whole and in two pieces at an offset the
// input chooses, must give the same outcome, with views inside the input.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/parser.h"

using sluice::http::HeaderField;
using sluice::http::ParserLimits;
using sluice::http::ParseState;
using sluice::http::RequestParser;

namespace {

struct Outcome {
  ParseState state;
  int status;
  std::size_t head_bytes;
};

Outcome run(std::string_view in, std::size_t cut) {
  ParserLimits limits{256, 2048, 32};
  std::array<HeaderField, 32> storage;
  RequestParser p(limits, storage);
  ParseState s = ParseState::need_more;
  if (cut > 0 && cut < in.size()) s = p.parse(in.substr(0, cut));
  if (s == ParseState::need_more) s = p.parse(in);
  Outcome o{s, s == ParseState::error ? p.error().status : 0, 0};
  if (s == ParseState::complete) {
    o.head_bytes = p.head_bytes();
    if (o.head_bytes > in.size()) std::abort();
    for (const auto& f : p.head().fields) {
      if (f.name.data() < in.data() || f.value.data() + f.value.size() > in.data() + in.size()) {
        std::abort();
      }
      if (f.name.empty()) std::abort();
    }
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Outcome whole = run(in, 0);
  const std::size_t cut = size > 0 ? data[0] % size : 0;
  const Outcome split = run(in, cut);
  if (whole.state != split.state || whole.status != split.status ||
      whole.head_bytes != split.head_bytes) {
    std::abort();
  }
  return 0;
}
