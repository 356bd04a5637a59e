// Content negotiation on Accept-Encoding (RFC 9110 §12.5.3): which coding,
// if any, a response is compressed with for a client. Pure: no I/O, no
// allocation.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "config/compress_config.h"

namespace sluice::middleware {

// The coding to apply, of `ours` (our preference order), for a request whose
// Accept-Encoding field values are `accept_encoding` (several fields joined
// with ", "); nullopt: send the content as it is (identity).
//
// The client's weights decide: the acceptable coding (q > 0) with the
// highest q wins, ties going to the earlier in `ours`. A coding the client
// does not name takes the weight of "*", if it sent one, and is otherwise
// not acceptable; "x-gzip" is gzip (RFC 9110 §8.4.1.3). "identity" competes
// only when the client names it: a coding weighed the same beats it. When
// no coding is acceptable the content goes as it is, even if the client
// said "identity;q=0" (a 406 would help nobody). An element that does not
// parse (a bad token or q-value) is ignored; a coding named twice keeps its
// first weight. The caller handles a request without the field (no
// compression, as nothing says the client can decode one).
std::optional<config::Coding> negotiate_coding(std::string_view accept_encoding,
                                               std::span<const config::Coding> ours);

}  // namespace sluice::middleware
