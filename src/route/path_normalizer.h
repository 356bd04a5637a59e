// The one rule by which request paths are normalised before routing, and
// forwarded afterwards, so that what a route matched is what the backend
// receives and a protected path cannot be reached by another spelling:
//
//  1. percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2:
//     "%61" -> "a", "%2E" -> "."); other escapes stay, with upper-case hex
//     ("%2f" -> "%2F": an encoded '/' never becomes a separator);
//  2. runs of '/' become one '/' (as nginx's merge_slashes does);
//  3. "." and ".." segments are removed (RFC 3986 §5.2.4, §6.2.2.3); ".."
//     never climbs above the root.
//
// "/%61dmin", "//admin" and "/x/../admin" all become "/admin".
#pragma once

#include <string>
#include <string_view>

namespace sluice::route {

// Normalises an origin-form path (starting with '/', without the query).
// False if it holds a malformed escape ('%' not followed by two hex digits):
// the request is refused with 400.
bool normalize_path(std::string_view path, std::string& out);

}  // namespace sluice::route
