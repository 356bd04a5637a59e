// The DATA source both HTTP/2 codecs give nghttp2 (private to src/http):
// the body a stream sends comes from a view its owner sets (`out`), ends
// with `out_end`, and may close with trailer fields. The server's
// H2StreamState and the client's H2ClientStreamState share these members.
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "http/h2_connection.h"

namespace sluice::http {

inline void submit_trailer_fields(nghttp2_session* session, std::int32_t id, H2FieldList& list) {
  const auto fields = list.fields();
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const auto& f : fields) {
    nv.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.name.data())),
                  reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                  f.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_submit_trailer(session, id, nv.data(), nv.size());
}

// Copies what fits of s.out into a DATA frame's `buf`. NGHTTP2_ERR_DEFERRED
// when nothing is there yet (resume later); `drained` says s.out was
// taken in full (the owner may offer the next piece).
template <class StreamState>
ssize_t take_body(nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                  std::uint32_t* flags, StreamState& s, bool& drained) {
  const std::size_t n = std::min(length, s.out.size());
  if (n > 0) std::memcpy(buf, s.out.data(), n);
  s.out.remove_prefix(n);
  drained = false;
  if (!s.out.empty()) return static_cast<ssize_t>(n);
  if (s.out_end) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    s.out_done = true;
    if (s.send_trailers) {
      // RFC 9113 §8.1: trailers in a HEADERS frame that ends the stream.
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      submit_trailer_fields(session, id, s.out_trailers);
    }
  } else if (n == 0) {
    s.out_deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  drained = true;
  return static_cast<ssize_t>(n);
}

}  // namespace sluice::http
