// Response parser oracle under every request method that changes framing:
// the first input byte picks a split point, the rest is the response.
// Whole, in two pieces and one byte at a time give the same head.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "http/parser.h"

using namespace sluice::http;

namespace {

struct Outcome {
  ParseState state = ParseState::need_more;
  std::size_t head_bytes = 0;
  int status = 0;
  Framing framing = Framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = false;
  bool must_close = false;
  std::size_t fields = 0;

  bool operator==(const Outcome&) const = default;
};

Outcome run(std::string_view in, Method m, const std::vector<std::size_t>& cuts) {
  std::array<HeaderField, 32> storage;
  ResponseParser p({256, 2048, 32}, storage);
  ParseState s = ParseState::need_more;
  for (std::size_t cut : cuts) {
    if (cut == 0 || cut >= in.size()) continue;
    s = p.parse(in.substr(0, cut), m);
    if (s != ParseState::need_more) break;
  }
  if (s == ParseState::need_more) s = p.parse(in, m);
  Outcome o;
  o.state = s;
  if (s == ParseState::error && p.error().status != 502) std::abort();
  if (s != ParseState::complete) return o;
  const auto& h = p.head();
  if (p.head_bytes() > in.size()) std::abort();
  // RFC 9110 §15: a status is 100 to 599.
  if (h.status < 100 || h.status > 599) std::abort();
  // RFC 9112 §6.3: bodiless responses never claim a body.
  if ((m == Method::HEAD || h.status == 204 || h.status == 304 || h.status < 200) &&
      h.framing != Framing::none) {
    std::abort();
  }
  // A body that runs to the close cannot leave the connection reusable.
  if ((h.framing == Framing::close_delimited || h.must_close) && h.keep_alive) std::abort();
  o.head_bytes = p.head_bytes();
  o.status = h.status;
  o.framing = h.framing;
  o.content_length = h.content_length;
  o.keep_alive = h.keep_alive;
  o.must_close = h.must_close;
  o.fields = h.fields.size();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = static_cast<std::size_t>(data[0]) * in.size() / 256;
  std::vector<std::size_t> every(in.size());
  for (std::size_t i = 0; i < every.size(); ++i)
    every[i] = i + 1;
  for (Method m : {Method::GET, Method::HEAD, Method::CONNECT}) {
    const Outcome whole = run(in, m, {});
    if (!(run(in, m, {cut}) == whole)) std::abort();
    if (!(run(in, m, every) == whole)) std::abort();
  }
  return 0;
}
