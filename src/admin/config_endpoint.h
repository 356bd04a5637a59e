// GET /config: the configuration in force, as it was applied.
//
//   GET /config              application/yaml: the text of the last applied
//                            configuration (the file at start or at its last
//                            reload, or a POST /config body), after a comment
//                            header naming its generation, origin and time
//   GET /config?format=json  application/json: {"generation", "origin",
//                            "applied_at", "redacted", "text"}
//
// Credentials written inline (header values such as Authorization) show
// as "<redacted>" (config/redact.h); files that hold secrets are shown by
// name only, as written. The text is the one applied, not the file as it
// is now on disk: an edit not yet reloaded is not shown.
#pragma once

#include <string_view>

#include "admin/endpoints.h"

namespace sluice::proxy {
class Reloader;
}

namespace sluice::admin {

AdminResponse config_in_force(std::string_view target, const proxy::Reloader& reloader);

}  // namespace sluice::admin
