// A byte tunnel between two connected byte streams (after an HTTP Upgrade, and
// for TCP listeners): each direction copies with back-pressure, a FIN is
// passed on as a shutdown of the other side's sending direction, and the
// tunnel ends when both directions have ended, or when neither has moved a
// byte for `idle_timeout_ms`.
#pragma once

#include <cstdint>
#include <span>

#include "core/task.h"

namespace sluice {
class ByteStream;
}

namespace sluice::proxy {

// With `use_splice`, between two plain sockets, bytes move socket -> pipe -> socket inside the
// kernel (splice(2)), never copied through our buffers; if a pipe cannot be made, the buffers are
// used.
Task<void> run_tunnel(ByteStream& a, ByteStream& b, std::span<char> a_to_b, std::span<char> b_to_a,
                      std::uint64_t idle_timeout_ms, bool use_splice = false);

}  // namespace sluice::proxy
