// Runtime control of servers through the admin listener: what each
// backend's servers are doing, and an operator's drain, disable and enable.
//
//   GET  /backends       JSON: every backend of the configuration in force,
//                        each server's health, admin state, requests in flight
//   POST /backends/NAME/servers/ADDRESS/state    (PUT too)
//                        body `drain`, `disable` or `enable`: 200 with the
//                        server as JSON; 404 for an unknown backend or
//                        server, 400 for another body or a bad %-escape
//
// Routing (endpoints.h) sends only paths of the second shape here; the
// request is parsed first, then applied to the configuration in force.
//
// The state belongs to the server within that backend (another backend
// naming the same address is not affected) and is carried over by reloads
// that keep the server, as health is.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "admin/endpoints.h"
#include "balance/server_state.h"

namespace sluice::proxy {
class Server;
struct Backend;
}  // namespace sluice::proxy

namespace sluice::admin {

// What POST /backends/NAME/servers/ADDRESS/state asks for, its names
// percent-decoded (a name holding '/' is written %2F).
struct StateChange {
  std::string backend;
  std::string server;
  balance::AdminState state = balance::AdminState::enabled;
};

// NAME and ADDRESS of /backends/NAME/servers/ADDRESS/ACTION, percent-decoded.
struct ServerPath {
  std::string backend;
  std::string server;
};

// Whether `path` has the shape /backends/NAME/servers/ADDRESS/ACTION
// (`action`: "state", "weight"). NAME ends at the first "/servers/"; NAME
// and ADDRESS may be empty (no backend or server has such a name: 404
// when looked up).
bool is_server_path(std::string_view path, std::string_view action);
inline bool is_state_path(std::string_view path) {
  return is_server_path(path, "state");
}

// The names in such a path (its query aside), or the 400 for a malformed
// %-escape or a control character in one.
std::variant<ServerPath, AdminResponse> parse_server_path(std::string_view target,
                                                          std::string_view action);

// Runs `change` on server ADDRESS of backend NAME in the configuration in
// force, while no reload can run (so the next one inherits what it sets),
// and returns its answer; 404 for an unknown backend or server.
using ServerChange = std::function<AdminResponse(const proxy::Backend&, int server)>;
AdminResponse change_server(const ServerPath& where, proxy::Server& server,
                            const ServerChange& change);

// One server as GET /backends lists it (JSON).
std::string server_json(const proxy::Backend& backend, int server);

// The change a request to a state path asks for, or its 400: a malformed
// %-escape or a control character in a name, or a body other than drain,
// disable or enable (white space around it aside). `target` must be a state
// path, its query aside.
std::variant<StateChange, AdminResponse> parse_state_change(std::string_view target,
                                                            std::string_view body);

// GET /backends.
AdminResponse list_backends(proxy::Server& server);

// 200 with the server as JSON, or 404 for an unknown backend or server.
// Logged at warn.
AdminResponse apply_state_change(const StateChange& change, proxy::Server& server);

}  // namespace sluice::admin
