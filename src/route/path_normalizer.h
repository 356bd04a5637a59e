// The one rule by which request paths are normalised before routing, and
// forwarded afterwards, so that what a route matched is byte for byte what
// the backend receives and a protected path cannot be reached by another
// spelling (issue 13):
//
//  1. percent-encoded unreserved characters are decoded (RFC 3986 §6.2.2.2:
//     "%61" -> "a", "%2E" -> "."); other escapes stay, with upper-case hex
//     ("%3b" -> "%3B");
//  2. runs of '/' become one '/' (as nginx's merge_slashes does);
//  3. "." and ".." segments are removed (RFC 3986 §5.2.4, §6.2.2.3).
//
// "/%61dmin", "//admin" and "/x/../admin" all become "/admin". Letter case
// is kept: "/ADMIN" stays "/ADMIN" (routes are case-sensitive).
//
// Spellings that backends disagree about are refused rather than guessed
// (see PathError): a ".." above the root, a raw or encoded backslash, an
// encoded slash (unless kept), a "..;" or ".;" segment, control bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::route {

enum class PathError : std::uint8_t {
  none,           // normalised
  bad_escape,     // '%' not followed by two hex digits
  control,        // a control byte or space, raw or encoded (%00-%1F, %7F)
  backslash,      // a raw '\': Windows servers and some frameworks read it as '/'
  fragment,       // a raw '#': not part of a request target (RFC 9112 §3.2.1)
  escaped_slash,  // %2F or %5C: servers that decode it before routing see a separator
  dot_parameter,  // a "..;x" or ".;x" segment: Tomcat drops ";x" and then climbs
  above_root,     // a ".." with nothing left to remove
  dot_segment,    // a "." or ".." segment where PathOptions refuses them
};

struct PathOptions {
  // Keep %2F and %5C as they are (never a separator here) instead of
  // refusing them.
  bool keep_escaped_slashes = false;
  // Refuse "." and ".." segments instead of resolving them: for paths
  // built by a rewrite, where a capture must not leave the rewritten tree.
  bool reject_dot_segments = false;
};

// Normalises an origin-form path (starting with '/', without the query)
// into `out`. On an error `out` holds no usable path and the request is
// refused with 400.
PathError normalize_path(std::string_view path, std::string& out, PathOptions options = {});

// True when `path` is already its own normal form by a quick look: it
// starts with '/', holds only letters, digits and "-._~!$&'()*+,;=:@/"
// (no escape, control, backslash or '#'), and has no empty, ".", ".."
// segment and none starting ".;" or "..;". Then normalize_path() would
// copy it unchanged under any options, so most requests skip the copy.
// False says nothing: ask normalize_path().
bool is_normal_path(std::string_view path);

// Why a path is refused, for the 400 and the log line.
const char* describe(PathError error);

}  // namespace sluice::route
