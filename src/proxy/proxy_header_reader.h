// Reads the PROXY protocol header a listener expects before any other byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/task.h"

namespace sluice {
class Buffer;
class Socket;
class SocketAddress;
}  // namespace sluice

namespace sluice::proxy {

// Reads into `buf` until a whole header is there, within `timeout_ms`.
// On success sets `source` (and `destination`) unless the header is LOCAL,
// and leaves the bytes after the header in buf[0, used). `exact`: consume
// the header and not one byte more (used is 0 afterwards), for a
// transport (TLS) that reads the rest from the socket itself. False
// (logged with `listener`): close the connection.
Task<bool> read_proxy_header(Socket& sock, Buffer& buf, std::size_t& used, SocketAddress& source,
                             SocketAddress& destination, std::uint64_t timeout_ms,
                             const char* listener, bool exact = false);

}  // namespace sluice::proxy
