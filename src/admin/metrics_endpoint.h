// GET /metrics: the Prometheus text exposition format (0.0.4).
#pragma once

#include "admin/endpoints.h"

namespace sluice::proxy {
class Reloader;
class Server;
}  // namespace sluice::proxy

namespace sluice::admin {

// The server's families (proxy::Server::write_metrics), then the reloads'.
AdminResponse metrics_response(proxy::Server& server, proxy::Reloader& reloader);

}  // namespace sluice::admin
