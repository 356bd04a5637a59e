#include "admin/route_json.h"

#include <fmt/format.h>

#include "admin/endpoints.h"

namespace sluice::admin {

const char* path_kind_name(route::Route::PathKind k) {
  switch (k) {
    case route::Route::PathKind::exact:
      return "exact";
    case route::Route::PathKind::prefix:
      return "prefix";
    case route::Route::PathKind::regex:
      return "regex";
    case route::Route::PathKind::any:
      break;
  }
  return "any";
}

std::string route_action_json(const route::Route& r) {
  switch (r.action) {
    case route::ActionKind::backend:
      return "\"action\": \"backend\", \"backend\": " + json_string(r.backend);
    case route::ActionKind::respond:
      return fmt::format("\"action\": \"respond\", \"status\": {}", r.respond().status);
    case route::ActionKind::redirect:
      return fmt::format("\"action\": \"redirect\", \"status\": {}", r.redirect().status);
  }
  return "\"action\": \"unknown\"";
}

}  // namespace sluice::admin
