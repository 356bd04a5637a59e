// A header value with variables, as the 'headers' middleware takes it:
// "${client_ip}", "${host}", "$1" or "${1}" (a route capture), "$$" for a
// literal '$'. Split once at load; expanded per request by the middleware.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

enum class FieldVariable : std::uint8_t {
  none,        // a literal piece
  host,        // the Host the client asked for, without port
  client_ip,   // the client's address (the PROXY header's when there was one)
  method,      // the request method
  path,        // the normalised path
  query,       // the query string, without '?'
  scheme,      // http or https
  route,       // the matched route's name
  request_id,  // the request's id (top-level request_id); 32 random hex digits when off
  capture,     // a capture of the route's path_regex
};

struct FieldTemplatePiece {
  FieldVariable variable = FieldVariable::none;
  std::string literal;  // for none
  int group = 0;        // for capture
};

// False with `error` set for an unknown variable or an unclosed "${".
bool parse_field_template(std::string_view text, std::vector<FieldTemplatePiece>& out,
                          std::string& error);

}  // namespace sluice::config
