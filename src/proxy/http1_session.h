// The server side of one HTTP/1.1 client connection (HAProxy's "session"):
// reads requests, routes them, answers, keeps the connection alive per
// RFC 9112 §9, and closes it cleanly. One coroutine per connection.
#pragma once

#include "core/listener.h"
#include "core/task.h"

#include <cstddef>

namespace sluice {
class ListenerCap;
class Worker;
}  // namespace sluice

namespace sluice::proxy {

struct Snapshot;
struct WorkerContext;

// Serves the client connection `fd`, accepted by `worker` on listener slot
// `listener_index`, until it closes; the task holds the connection's
// ConnectionScope (Worker::set_scoping_handler). `ctx` is the worker's
// forwarding state (its upstream pool and snapshot) and must outlive the task.
// `peer`: the client as accept(2) named it.
Task<void> serve_http_client(Worker& worker, std::size_t listener_index, ListenerCap* cap, int fd,
                             CompactAddress peer, WorkerContext& ctx);

}  // namespace sluice::proxy
