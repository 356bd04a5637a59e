// A TCP (layer 4) listener's connection: read the PROXY header if the
// listener expects one, choose a server of the listener's backend (trying
// the next when a connect fails), send a PROXY header if the server asks
// for one, then pass bytes both ways untouched until both sides are done.
#pragma once

#include "core/task.h"

namespace sluice {
class ConnectionScope;
}

namespace sluice::proxy {

struct Snapshot;
struct WorkerContext;

Task<void> serve_tcp_client(ConnectionScope& scope, int fd, WorkerContext& ctx);

}  // namespace sluice::proxy
