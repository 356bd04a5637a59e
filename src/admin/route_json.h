// Pieces of a route as JSON, shared by GET /routes and /routes/explain.
#pragma once

#include <string>

#include "route/route_table.h"

namespace sluice::admin {

// "exact", "prefix", "regex" or "any".
const char* path_kind_name(route::Route::PathKind k);
// `"action": "backend", "backend": "app"` (or respond / redirect with the
// status): members to put inside an object.
std::string route_action_json(const route::Route& r);

}  // namespace sluice::admin
