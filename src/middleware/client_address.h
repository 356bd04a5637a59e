// Which address the access rules judge: the peer (or the PROXY header's
// address), or, when the peer is a trusted proxy, the address that proxy
// and the trusted ones before it say they received the request from.
#pragma once

#include <span>

#include "http/message.h"
#include "middleware/cidr_set.h"

namespace sluice {
class SocketAddress;
}

namespace sluice::middleware {

// The client of a request from `peer` carrying `fields`. With `trusted`
// empty, or a peer outside it, the client is the peer and X-Forwarded-For
// is ignored: anyone can write that field.
//
// From a trusted peer, the X-Forwarded-For list (every field of the name,
// in order: RFC 9110 §5.3) is walked right to left. Each proxy appends the
// address it received the request from, so an entry is only as good as
// the proxy to its right: the walk stops at the first entry that is not a
// trusted proxy, and that is the client. Whatever a client wrote itself
// sits further left and is never read, so it cannot prepend its way in.
// When every entry is a trusted proxy, the left-most one is the client.
//
// False when the client cannot be told: the peer is not an IP address, or
// the walk met an entry that is not an address ("unknown", a port, junk)
// before it met the client. A trusted proxy wrote that entry, so the
// client is hidden behind it, and the caller must fail closed.
bool client_address(const SocketAddress& peer, std::span<const http::HeaderField> fields,
                    const CidrSet& trusted, IpAddress& out);

}  // namespace sluice::middleware
