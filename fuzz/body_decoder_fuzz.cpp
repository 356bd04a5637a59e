// Body decoder oracle. Input: a framing byte, two bytes of Content-Length
// (0xffff: the largest length there is), a seed byte, then the bytes a
// connection delivers. Fed whole, in random pieces and one byte at a time,
// the decoder must give the same data and trailer fields, end at the same
// place, and reach the same verdict; every call keeps consumed <= size, data_bytes <= consumed,
// body_bytes() growing by exactly data_bytes, and the bytes after
// `consumed` untouched.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/body_decoder.h"

using sluice::http::BodyDecoder;
using sluice::http::Framing;

namespace {

constexpr std::size_t kHeaderBytes = 4;

struct Outcome {
  std::string data;
  std::size_t end = 0;  // input bytes consumed in all (where the body ended)
  bool done = false;
  bool error = false;
  std::string reason;
  bool complete_at_close = false;  // end_of_input() at the end of the input
  std::string trailers;            // a chunked body's trailer fields, once done

  bool operator==(const Outcome&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

// One decode call with every per-call invariant checked; the caller's
// buffer keeps the bytes not consumed, as a connection's buffer would.
BodyDecoder::Result decode_checked(BodyDecoder& d, std::string& buffer) {
  const std::string before = buffer;
  const std::uint64_t body_before = d.body_bytes();
  const bool was_done = d.done();
  const auto r = d.decode(std::span<char>(buffer.data(), buffer.size()));
  check(r.consumed <= buffer.size());
  check(r.data_bytes <= r.consumed);
  check(d.body_bytes() == body_before + r.data_bytes);
  check(std::memcmp(buffer.data() + r.consumed, before.data() + r.consumed,
                    buffer.size() - r.consumed) == 0);
  check(r.done == d.done());
  check(r.reason != nullptr && (r.error == (r.reason[0] != '\0')));
  if (was_done) check(r.consumed == 0 && r.done);
  return r;
}

// Delivers `in` in pieces of the sizes `next_piece` gives.
template <typename NextPiece>
Outcome run(Framing framing, std::uint64_t length, std::string_view in, NextPiece next_piece) {
  BodyDecoder d(framing, length);
  Outcome o;
  std::string buffer;
  std::size_t delivered = 0;
  while (!o.done && !o.error) {
    const auto r = decode_checked(d, buffer);
    o.data.append(buffer, 0, r.data_bytes);
    buffer.erase(0, r.consumed);
    o.end += r.consumed;
    o.done = r.done;
    o.error = r.error;
    o.reason = r.reason;
    if (o.done || o.error) break;
    if (r.consumed > 0) continue;  // maybe more in what is buffered
    if (delivered == in.size()) break;
    const std::size_t n = std::min(next_piece(), in.size() - delivered);
    buffer.append(in.substr(delivered, n));
    delivered += n;
  }
  check(d.body_bytes() == o.data.size());
  for (const auto& f : d.trailers())
    o.trailers.append(f.name).append(1, '\0').append(f.value).append("\n");
  check(o.trailers.empty() || (o.done && framing == Framing::chunked));
  std::string rest(in.substr(o.end));
  if (o.error) {
    // Failed for good, with the same reason, even with nothing to decode.
    check(decode_checked(d, rest).reason == o.reason);
    std::string nothing;
    check(decode_checked(d, nothing).reason == o.reason);
    // A failing call may have read bytes it does not count as consumed:
    // where a failed body stopped depends on the pieces, and nobody reads on.
    o.end = 0;
  } else {
    o.complete_at_close = d.end_of_input();
    check(d.done() == o.complete_at_close);
    // Done: nothing more is taken.
    if (d.done()) check(decode_checked(d, rest).consumed == 0);
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) return 0;
  const auto framing = static_cast<Framing>(data[0] & 3);
  const unsigned short_length = data[1] | (data[2] << 8);
  const std::uint64_t length =
      short_length == 0xffff ? std::numeric_limits<std::uint64_t>::max() : short_length;
  std::uint32_t seed = data[3] | 1u;
  const std::string_view in(reinterpret_cast<const char*>(data) + kHeaderBytes,
                            size - kHeaderBytes);

  const Outcome whole = run(framing, length, in, [&] { return in.size(); });
  // xorshift32: pieces of 1 to 16 bytes, the same for the same input.
  const Outcome pieces = run(framing, length, in, [&] {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return static_cast<std::size_t>(seed % 16) + 1;
  });
  const Outcome bytes = run(framing, length, in, [] { return std::size_t{1}; });
  check(pieces == whole);
  check(bytes == whole);
  return 0;
}
