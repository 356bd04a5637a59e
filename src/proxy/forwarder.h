// Forwarding one request to a backend and its response back: the part of
// the request path after routing (pick server -> pooled connection ->
// forward -> respond). See exchange.h for how it is built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/task.h"

namespace sluice {
class Buffer;
class ConnectionScope;
class Socket;
class SocketAddress;
namespace http {
struct RequestHead;
}
namespace route {
struct Route;
}
}  // namespace sluice

namespace sluice::proxy {

struct ListenerSettings;
struct Backend;
struct WorkerContext;

// The client side of an exchange, owned by the client session.
struct ClientConnection {
  ConnectionScope& scope;
  Socket& sock;
  Buffer& buf;        // [0, head_bytes) the request head, then body or later requests
  std::size_t& used;  // bytes held in buf
  const ListenerSettings& listener;
  const SocketAddress& peer;
  // The connection carried requests before this one: a request that failed
  // in a way the client may retry itself is then answered by a close.
  bool earlier_requests = false;
  std::uint64_t request_started_ms = 0;  // the request's first byte (loop clock)
};

struct ForwardResult {
  enum class Next {
    keep_alive,  // the response was sent; serve the next request
    close,       // close the client connection (after a lingering close)
    abort,       // close at once: the response was cut off
  };
  Next next = Next::close;
  // Nonzero: nothing reached the client yet; answer with this status and
  // `error_reason` (already logged), then close.
  int error_status = 0;
  const char* error_reason = "";
};

// Forwards the request whose head is `head` (views into client.buf) to the
// route's backend, with `target` as its request target (normalised or
// rewritten), and relays the response. On return client.buf holds only the
// bytes that followed the request (pipelined requests) in [0, used).
// The exchange holds `route` and `backend` (reference-counted) until it
// ends, a tunnel included, and nothing else of the configuration.
Task<ForwardResult> forward_request(WorkerContext& ctx, std::shared_ptr<const route::Route> route,
                                    std::shared_ptr<const Backend> backend,
                                    const http::RequestHead& head, std::size_t head_bytes,
                                    std::string_view target, ClientConnection& client,
                                    bool keep_alive);

}  // namespace sluice::proxy
