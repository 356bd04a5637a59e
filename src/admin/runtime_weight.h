// An operator's weight for one server, through the admin listener:
//
//   PUT /backends/NAME/servers/ADDRESS/weight     (POST too)
//       body: an integer from 0 to 256 (white space around it aside).
//       200 with the server as JSON (GET /backends' shape); 404 for an
//       unknown backend or server; 400 for another body or a bad %-escape
//
// The weight is the server's share of new requests from its next pick on,
// whatever the backend's balance (round robin, least_conn, random, p2c,
// hash: a new ring). 0, as HAProxy's `set weight 0`, takes the server out
// of balancing while sticky clients still reach it. It lasts until the
// next change, and over reloads that keep the server with the weight the
// file gave it before; a reload that writes a new weight for the server
// replaces it (the file is the newer word).
#pragma once

#include <optional>
#include <string_view>
#include <variant>

#include "admin/endpoints.h"
#include "admin/server_control.h"

namespace sluice::proxy {
class Server;
}

namespace sluice::admin {

struct WeightChange {
  ServerPath where;
  int weight = 1;
};

// The weight a body asks for: a decimal integer from 0 to 256, white space
// around it aside; nullopt for anything else.
std::optional<int> parse_weight(std::string_view body);

// The change a request to a weight path asks for, or its 400.
std::variant<WeightChange, AdminResponse> parse_weight_change(std::string_view target,
                                                              std::string_view body);

// Applies it to the configuration in force; logged at warn.
AdminResponse apply_weight_change(const WeightChange& change, proxy::Server& server);

// The endpoint: parses the request, then applies it.
AdminResponse change_weight(std::string_view target, std::string_view body, proxy::Server& server);

}  // namespace sluice::admin
