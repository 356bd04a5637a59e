// What ties a request to a server: the key `balance: hash` places on its
// ring, and the server a sticky cookie names.
#pragma once

#include <cstdint>
#include <string_view>

#include "http/message.h"

namespace sluice {
class SocketAddress;
}

namespace sluice::proxy {

struct Backend;

// From the request's fields as received, and from its path as routed and
// forwarded (`target`), so every spelling of one path lands on one server;
// balance::Balancer::kNoKey when the request has no such value.
std::uint64_t balance_key(const Backend& backend, const http::RequestHead& head,
                          std::string_view target, const SocketAddress& client);

// The server the request's sticky cookie names, if it is one of ours; -1.
int sticky_server(const Backend& backend, const http::RequestHead& head);

// The value of cookie `name` ("a=1; b=2": RFC 6265 §4.2.1).
bool find_cookie(const http::RequestHead& head, std::string_view name, std::string_view& value);

}  // namespace sluice::proxy
