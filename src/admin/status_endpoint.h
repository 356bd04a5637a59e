// GET /status: what runs, in one small JSON answer for the dashboard and
// for scripts:
//
//   {"version", "started_at", "now", "uptime_seconds", "generation",
//    "workers", "routes", "backends", "servers",
//    "listeners": [{"name", "listen", "protocol", "tls", "h2"}],
//    "last_reload": null | {"result": "applied"|"refused", "origin", "at",
//                           "summary", "messages": [...]}}
//
// Times are Unix seconds (fractions allowed), from this host's clock, so a
// page computes "how long ago" against "now" rather than its own clock.
#pragma once

#include <string>

namespace sluice::proxy {
class Reloader;
class Server;
}  // namespace sluice::proxy

namespace sluice::admin {

std::string status_json(const proxy::Server& server, const proxy::Reloader& reloader);

}  // namespace sluice::admin
