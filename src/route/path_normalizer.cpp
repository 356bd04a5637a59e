#include "route/path_normalizer.h"

#include <algorithm>

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

// Step 1: decode unreserved escapes, upper-case the others.
bool decode_unreserved(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
    if (is_unreserved(decoded)) {
      out.push_back(static_cast<char>(decoded));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[hi]);
      out.push_back(kHex[lo]);
    }
    i += 2;
  }
  return true;
}

}  // namespace

bool normalize_path(std::string_view path, std::string& out) {
  std::string decoded;
  if (!decode_unreserved(path, decoded)) return false;
  // Steps 2 and 3 in one pass over the segments; `out` is the output
  // buffer of RFC 3986 §5.2.4.
  out.clear();
  out.reserve(decoded.size());
  std::size_t pos = 0;
  const std::size_t n = decoded.size();
  while (pos < n) {
    while (pos < n && decoded[pos] == '/')
      ++pos;
    if (pos == n) break;
    const std::size_t end = std::min(decoded.find('/', pos), n);
    const std::string_view seg(decoded.data() + pos, end - pos);
    if (seg == "..") {
      const auto last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (seg != ".") {
      out.push_back('/');
      out.append(seg);
    }
    pos = end;
  }
  // A path naming a directory keeps its final slash: "/a/", "/a/.", "/a/b/.."
  // all end in '/'.
  const std::string_view last_segment =
      std::string_view(decoded).substr(std::min(decoded.rfind('/') + 1, n));
  const bool directory = last_segment.empty() || last_segment == "." || last_segment == "..";
  if (out.empty() || directory) out.push_back('/');
  return true;
}

}  // namespace sluice::route
