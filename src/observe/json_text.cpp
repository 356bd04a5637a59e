#include "observe/json_text.h"

namespace sluice::observe {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// The length of the well-formed UTF-8 sequence starting at p[0] (a byte
// 0x80 or above), or 0 when there is none (RFC 3629 §4: no overlong forms,
// no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(const unsigned char* p, std::size_t n) {
  const unsigned char c = p[0];
  const auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return i < n && p[i] >= lo && p[i] <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// A character a terminal or log viewer may take for a line break although
// it is not ASCII: the C1 controls (U+0080..U+009F, NEL among them) and
// U+2028/U+2029.
bool breaks_lines(const unsigned char* p, std::size_t len) {
  if (len == 2) return p[0] == 0xc2 && p[1] <= 0x9f;
  return len == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9);
}

bool plain_ascii(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void append_byte_escape(std::string& out, const char* prefix, unsigned char c) {
  out.append(prefix);
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0xf]);
}

}  // namespace

void append_json_escaped_utf8(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t run = i;
    while (run < n && plain_ascii(p[run]))
      ++run;
    out.append(s.data() + i, run - i);
    if (run == n) break;
    i = run;
    const unsigned char c = p[i];
    if (c >= 0x80) {
      if (const std::size_t len = utf8_length(p + i, n - i); len > 0) {
        out.append(s.data() + i, len);
        i += len;
        continue;
      }
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        append_byte_escape(out, "\\u00", c);  // a control character, DEL, or a stray byte
    }
    ++i;
  }
}

void append_text_escaped(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    std::size_t run = i;
    while (run < n && plain_ascii(p[run]))
      ++run;
    out.append(s.data() + i, run - i);
    if (run == n) break;
    i = run;
    if (p[i] >= 0x80) {
      const std::size_t len = utf8_length(p + i, n - i);
      if (len > 0 && !breaks_lines(p + i, len)) {
        out.append(s.data() + i, len);
        i += len;
        continue;
      }
      for (std::size_t k = 0; k < std::max<std::size_t>(len, 1); ++k)
        append_byte_escape(out, "\\x", p[i + k]);
      i += std::max<std::size_t>(len, 1);
      continue;
    }
    append_byte_escape(out, "\\x", p[i++]);
  }
}

std::string json_quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  append_json_escaped_utf8(out, s);
  out += '"';
  return out;
}

}  // namespace sluice::observe
