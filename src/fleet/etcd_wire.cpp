#include "fleet/etcd_wire.h"

#include <array>
#include <charconv>

namespace sluice::fleet::wire {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0-63 for the alphabet, -1 for anything else.
constexpr std::array<signed char, 256> make_decode_table() {
  std::array<signed char, 256> table{};
  for (auto& v : table)
    v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<signed char>(i);
  }
  return table;
}
constexpr auto kDecode = make_decode_table();

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Outside strings JSON has structure, numbers and the three literals
// (RFC 8259 §2-§6); YAML's indicators (& * ! | > ' # % @ ` ?) are not among
// them, so refusing everything else keeps the YAML reader on JSON's subset.
bool is_json_bare_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '+' || c == '.' || c == ':' || c == ',';
}

// Checks the shape of one JSON object text without building anything.
bool check_json_shape(std::string_view text, std::string& error) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  bool closed = false;  // the top-level object ended
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        error = "a control character inside a JSON string";  // RFC 8259 §7
        return false;
      }
      continue;
    }
    if (is_json_space(c)) continue;
    if (closed) {
      error = "bytes after the JSON object";
      return false;
    }
    if (depth == 0 && c != '{') {
      error = "not a JSON object";
      return false;
    }
    if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        error = "JSON nested too deeply";
        return false;
      }
    } else if (c == '}' || c == ']') {
      closed = --depth == 0;
    } else if (c == '"') {
      in_string = true;
    } else if (!is_json_bare_char(c)) {
      error = "a character JSON does not allow";
      return false;
    }
  }
  if (!closed) {
    error = "a JSON object cut short";
    return false;
  }
  return true;
}

std::optional<std::string> scalar_text(const YAML::Node& node) {
  try {
    if (!node.IsDefined() || !node.IsScalar()) return std::nullopt;
    return node.Scalar();
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += kAlphabet[n >> 6 & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += rest == 2 ? kAlphabet[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::uint32_t n = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (last && j >= 4 - padding) {
        n <<= 6;  // '=' (checked by how padding was counted)
        continue;
      }
      const signed char v = kDecode[static_cast<unsigned char>(c)];
      if (v < 0) return std::nullopt;
      n = n << 6 | static_cast<std::uint32_t>(v);
    }
    out += static_cast<char>(n >> 16 & 0xff);
    if (!last || padding < 2) out += static_cast<char>(n >> 8 & 0xff);
    if (!last || padding < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string json_string(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::optional<YAML::Node> parse_json_object(std::string_view text, std::string& error) {
  if (!check_json_shape(text, error)) return std::nullopt;
  try {
    YAML::Node node = YAML::Load(std::string(text));
    if (!node.IsMap()) {
      error = "not a JSON object";
      return std::nullopt;
    }
    return node;
  } catch (const YAML::Exception& e) {
    error = std::string("unreadable JSON: ") + e.what();
    return std::nullopt;
  }
}

YAML::Node member(const YAML::Node& node, const char* name) {
  try {
    if (node.IsDefined() && node.IsMap()) {
      const YAML::Node found = node[name];
      if (found.IsDefined()) return found;
    }
  } catch (const YAML::Exception&) {
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::int64_t> int64_member(const YAML::Node& node, const char* name) {
  const YAML::Node m = member(node, name);
  if (!m.IsDefined()) return 0;
  const auto text = scalar_text(m);
  if (!text || text->empty()) return std::nullopt;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<std::string> bytes_member(const YAML::Node& node, const char* name) {
  const YAML::Node m = member(node, name);
  if (!m.IsDefined()) return std::string();
  const auto text = scalar_text(m);
  if (!text) return std::nullopt;
  return base64_decode(*text);
}

std::optional<std::string> string_member(const YAML::Node& node, const char* name) {
  const YAML::Node m = member(node, name);
  if (!m.IsDefined()) return std::string();
  return scalar_text(m);
}

std::optional<bool> bool_member(const YAML::Node& node, const char* name) {
  const YAML::Node m = member(node, name);
  if (!m.IsDefined()) return false;
  const auto text = scalar_text(m);
  if (text == "true") return true;
  if (text == "false") return false;
  return std::nullopt;
}

}  // namespace sluice::fleet::wire
