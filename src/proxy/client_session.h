// The server side of one HTTP/1.1 client connection (HAProxy's "session"):
// reads requests, routes them, answers, keeps the connection alive per
// RFC 9112 §9, and closes it cleanly. One coroutine per connection.
#pragma once

#include "core/listener.h"
#include "core/task.h"

namespace sluice {
class ConnectionScope;
}

namespace sluice::proxy {

struct Snapshot;
struct WorkerContext;

// Serves the client connection `fd` until it closes. `snapshot` must outlive
// the task (the Server keeps it alive while workers run).
// `ctx` is the worker's forwarding state (its upstream pool).
Task<void> serve_http_client(ConnectionScope& scope, int fd, WorkerContext& ctx);

}  // namespace sluice::proxy
