#include "route/path_normalizer.h"

#include <array>

namespace sluice::route {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool is_control(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

// Step 1 for one escape at path[i] ('%'): decoded when unreserved, else
// kept with upper-case hex.
PathError append_escape(std::string_view path, std::size_t i, PathOptions options,
                        std::string& out) {
  if (i + 2 >= path.size()) return PathError::bad_escape;
  const int hi = hex_value(path[i + 1]);
  const int lo = hex_value(path[i + 2]);
  if (hi < 0 || lo < 0) return PathError::bad_escape;
  const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
  // A space is encoded as %20 on purpose; other controls have no business
  // in a path and end C strings (%00) in some backends.
  if (decoded != ' ' && is_control(decoded)) return PathError::control;
  if ((decoded == '/' || decoded == '\\') && !options.keep_escaped_slashes) {
    return PathError::escaped_slash;
  }
  if (is_unreserved(decoded)) {
    out.push_back(static_cast<char>(decoded));
    return PathError::none;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kHex[hi]);
  out.push_back(kHex[lo]);
  return PathError::none;
}

}  // namespace

PathError normalize_path(std::string_view path, std::string& out, PathOptions options) {
  out.clear();
  out.reserve(path.size() + 1);
  // `out` is the output buffer of RFC 3986 §5.2.4. Each segment is decoded
  // into it behind a '/', then looked at: a dot segment is taken out again.
  bool directory = false;  // the last segment seen was "." or ".."
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {  // runs of '/' merge: empty segments are skipped
      ++i;
      continue;
    }
    const std::size_t mark = out.size();
    out.push_back('/');
    for (; i < path.size() && path[i] != '/'; ++i) {
      const char c = path[i];
      if (c == '%') {
        if (const PathError e = append_escape(path, i, options, out); e != PathError::none) {
          return e;
        }
        i += 2;
        continue;
      }
      if (is_control(static_cast<unsigned char>(c))) return PathError::control;
      if (c == '\\') return PathError::backslash;
      if (c == '#') return PathError::fragment;
      out.push_back(c);
    }
    const std::string_view segment = std::string_view(out).substr(mark + 1);
    directory = segment == "." || segment == "..";
    if (!directory) {
      // Tomcat (and Spring on it) strips ";params" from each segment before
      // resolving dots, so "/x/..;/admin" reaches "/admin" there.
      if (segment.starts_with(".;") || segment.starts_with("..;")) return PathError::dot_parameter;
      continue;
    }
    if (options.reject_dot_segments) return PathError::dot_segment;
    const bool up = segment == "..";
    out.resize(mark);
    if (up) {
      // nginx answers 400 too; RFC 3986 would clamp at the root, but a
      // client that climbs out of the root is probing, not browsing.
      if (out.empty()) return PathError::above_root;
      out.resize(out.rfind('/'));
    }
  }
  // A path naming a directory keeps its final slash: "/a/", "/a/.",
  // "/a/b/.." all end in '/'.
  if (out.empty() || directory || path.ends_with('/')) out.push_back('/');
  return PathError::none;
}

namespace {

// The characters a normal path may hold without a closer look: RFC 3986
// §3.3 pchar less pct-encoded, plus '/'.
constexpr bool plain_path_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '!' || c == '$' || c == '&' || c == '\'' ||
         c == '(' || c == ')' || c == '*' || c == '+' || c == ',' || c == ';' || c == '=' ||
         c == ':' || c == '@' || c == '/';
}

constexpr std::array<bool, 256> kPlainPathChars = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<std::size_t>(c)] = plain_path_char(static_cast<unsigned char>(c));
  return t;
}();

// A segment normalize_path() would change or refuse: empty, ".", "..",
// or starting ".;" / "..;".
bool unusual_segment(std::string_view s) {
  if (s.empty() || s.front() != '.') return s.empty();
  return s == "." || s == ".." || s.starts_with(".;") || s.starts_with("..;");
}

}  // namespace

bool is_normal_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  std::size_t segment_start = 1;
  for (std::size_t i = 1; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (!kPlainPathChars[c]) return false;
    if (c != '/') continue;
    if (unusual_segment(path.substr(segment_start, i - segment_start))) return false;
    segment_start = i + 1;
  }
  // The last segment; "/" alone and a final '/' (a directory) are normal.
  const std::string_view last = path.substr(segment_start);
  return last.empty() ? true : !unusual_segment(last);
}

const char* describe(PathError error) {
  switch (error) {
    case PathError::none:
      return "normal path";
    case PathError::bad_escape:
      return "malformed percent-encoding in the path";
    case PathError::control:
      return "control character in the path";
    case PathError::backslash:
      return "backslash in the path";
    case PathError::fragment:
      return "'#' in the path";
    case PathError::escaped_slash:
      return "encoded slash or backslash (%2F, %5C) in the path";
    case PathError::dot_parameter:
      return "dot segment with parameters ('..;', '.;') in the path";
    case PathError::above_root:
      return "the path climbs above the root";
    case PathError::dot_segment:
      return "dot segment in the path";
  }
  return "invalid path";
}

}  // namespace sluice::route
