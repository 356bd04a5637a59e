// Path normalisation (RFC 3986 §6): whatever the bytes, the normal form
// starts with '/', has no empty, "." or ".." segment, no escape of an
// unreserved character, no encoded or raw backslash or slash escape, no
// "..;" or ".;" segment, never climbs above the root, and normalising it
// again changes nothing. A naive reference (split, decode, stack) must
// agree on whether a path is refused and on the result.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "route/path_normalizer.h"

namespace {

using sluice::route::PathError;
using sluice::route::PathOptions;

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool is_unreserved_escape(std::string_view s, std::size_t i) {
  auto upper_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  if (!upper_hex(s[i + 1]) || !upper_hex(s[i + 2])) std::abort();  // upper-case hex only
  return unreserved(static_cast<unsigned char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
}

// The reference: the same policy written the slow, obvious way. Returns
// false when the path must be refused.
bool reference(std::string_view in, PathOptions options, std::string& out) {
  std::vector<std::string> segments;  // the stack of RFC 3986 §5.2.4
  bool directory = false;
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t end = std::min(in.find('/', i), in.size());
    const std::string_view raw = in.substr(i, end - i);
    i = end + 1;
    if (raw.empty()) continue;
    std::string seg;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      const auto c = static_cast<unsigned char>(raw[k]);
      if (c <= 0x20 || c == 0x7f || c == '\\' || c == '#') return false;
      if (c != '%') {
        seg.push_back(static_cast<char>(c));
        continue;
      }
      if (k + 2 >= raw.size() || hex(raw[k + 1]) < 0 || hex(raw[k + 2]) < 0) return false;
      const auto d = static_cast<unsigned char>(hex(raw[k + 1]) * 16 + hex(raw[k + 2]));
      if ((d < 0x20 && d != ' ') || d == 0x7f) return false;
      if ((d == '/' || d == '\\') && !options.keep_escaped_slashes) return false;
      if (unreserved(d)) {
        seg.push_back(static_cast<char>(d));
      } else {
        const char* h = "0123456789ABCDEF";
        seg += {'%', h[d >> 4], h[d & 15]};
      }
      k += 2;
    }
    directory = seg == "." || seg == "..";
    if (seg.starts_with(".;") || seg.starts_with("..;")) return false;
    if (directory && options.reject_dot_segments) return false;
    if (seg == "..") {
      if (segments.empty()) return false;
      segments.pop_back();
    } else if (seg != ".") {
      segments.push_back(seg);
    }
  }
  out.clear();
  for (const auto& s : segments)
    out += "/" + s;
  if (out.empty() || directory || in.ends_with('/')) out += '/';
  return true;
}

void check(std::string_view in, PathOptions options) {
  std::string out;
  const PathError e = sluice::route::normalize_path(in, out, options);
  std::string expected;
  const bool accepted = reference(in, options, expected);
  if (accepted != (e == PathError::none)) std::abort();
  if (!accepted) return;
  if (out != expected) std::abort();
  if (out.empty() || out[0] != '/') std::abort();
  if (out.find("//") != std::string::npos) std::abort();
  for (std::string_view bad : {"/./", "/../", "/.;", "/..;", "\\"}) {
    if (out.find(bad) != std::string::npos) std::abort();
  }
  if (out.size() >= 2 && (out.ends_with("/.") || out.ends_with("/.."))) std::abort();
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '%' && (i + 2 >= out.size() || is_unreserved_escape(out, i))) std::abort();
  }
  if (!options.keep_escaped_slashes &&
      (out.find("%2F") != std::string::npos || out.find("%5C") != std::string::npos)) {
    std::abort();
  }
  std::string again;
  if (sluice::route::normalize_path(out, again, options) != PathError::none || again != out) {
    std::abort();
  }
}

}  // namespace

// The quick look (is_normal_path) may only say yes where normalising
// copies the path unchanged, under every option.
void check_quick_look(const std::string& in) {
  if (!sluice::route::is_normal_path(in)) return;
  for (const PathOptions options : {PathOptions{}, PathOptions{.keep_escaped_slashes = true},
                                    PathOptions{.reject_dot_segments = true}}) {
    std::string out;
    if (sluice::route::normalize_path(in, out, options) != PathError::none || out != in) {
      std::abort();
    }
  }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in = "/";
  in.append(reinterpret_cast<const char*>(data), size);
  check_quick_look(in);
  check(in, {});
  check(in, {.keep_escaped_slashes = true});
  check(in, {.reject_dot_segments = true});
  return 0;
}
