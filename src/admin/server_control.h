// Runtime control of servers through the admin listener: what each
// backend's servers are doing, and an operator's drain, disable and enable.
//
//   GET  /backends       JSON: every backend of the configuration in force,
//                        each server's health, admin state, requests in flight
//   POST /backends/NAME/servers/ADDRESS/state    (PUT too)
//                        body `drain`, `disable` or `enable`: 200 with the
//                        server as JSON; 404 for an unknown backend or
//                        server, 400 for another body
//
// The state belongs to the server within that backend (another backend
// naming the same address is not affected) and is carried over by reloads
// that keep the server, as health is.
#pragma once

#include <optional>
#include <string_view>

#include "admin/endpoints.h"

namespace sluice::proxy {
class Server;
}

namespace sluice::admin {

// The answer for the paths above; nullopt for any other path, which the
// caller answers itself. State changes are logged at warn.
std::optional<AdminResponse> handle_server_control(std::string_view method, std::string_view path,
                                                   std::string_view body, proxy::Server& server);

}  // namespace sluice::admin
