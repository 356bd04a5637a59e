// Response parser under every request method that changes framing.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/parser.h"

using namespace sluice::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (Method m : {Method::GET, Method::HEAD, Method::CONNECT}) {
    std::array<HeaderField, 32> storage;
    ResponseParser whole({256, 2048, 32}, storage);
    const ParseState a = whole.parse(in, m);
    std::array<HeaderField, 32> storage2;
    ResponseParser split({256, 2048, 32}, storage2);
    ParseState b = ParseState::need_more;
    const std::size_t cut = size > 1 ? data[size - 1] % size : 0;
    if (cut > 0) b = split.parse(in.substr(0, cut), m);
    if (b == ParseState::need_more) b = split.parse(in, m);
    if (a != b) std::abort();
    if (a == ParseState::complete) {
      const auto& h = whole.head();
      if (whole.head_bytes() > size) std::abort();
      // RFC 9112 §6.3: bodiless responses never claim a body.
      if ((m == Method::HEAD || h.status == 204 || h.status == 304 || h.status < 200) &&
          h.framing != Framing::none) {
        std::abort();
      }
    }
  }
  return 0;
}
