// A query string's pieces as browsers and `curl -G --data-urlencode` write
// them (application/x-www-form-urlencoded), for the admin endpoints that
// take parameters.
#pragma once

#include <string>
#include <string_view>

namespace sluice::admin {

// %XX escapes decoded and '+' read as a space, into `out`. False for a
// malformed escape (`out` is then incomplete).
bool form_decode(std::string_view in, std::string& out);

}  // namespace sluice::admin
