// Which fields may travel in a trailer section. RFC 9110 §6.5.1: a field
// the recipient needs before it reads the content (framing, routing,
// authentication, request modifiers, response controls, the content's
// format) must not be sent as a trailer, and a recipient must not merge
// such a trailer into the header section. A proxy that forwards trailers
// therefore drops these, whatever protocol they came in, and forwards the
// rest as they came.
#pragma once

#include <string_view>

namespace sluice::http {

// False for a field that has no place in a trailer section: framing
// (Content-Length, Transfer-Encoding), routing (Host), Connection and the
// other hop-by-hop fields (RFC 9110 §7.6.1), authentication, request
// modifiers and conditionals, response controls, cookies, Content-Encoding, -Type
// and -Range, Trailer itself, and any pseudo-field (":status"). Names
// compare case-insensitively.
bool allowed_in_trailers(std::string_view name);

}  // namespace sluice::http
