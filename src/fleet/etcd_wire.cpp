#include "fleet/etcd_wire.h"

#include <array>
#include <charconv>

#include "observe/json_text.h"

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

// A recursive-descent reader of RFC 8259 JSON over one text; depth is
// bounded, so recursion is too.
class Reader {
 public:
  explicit Reader(std::string_view text)
      : text_(text), values_left_(text.size() / kMinBytesPerValue + 16) {}

  std::optional<Json> document(std::string& error) {
    Json value;
    skip_space();
    if (peek() != '{') return fail(error, "not a JSON object");
    if (!read_value(value, 0)) return fail(error, error_);
    skip_space();
    if (pos_ != text_.size()) return fail(error, "bytes after the JSON object");
    return value;
  }

 private:
  std::optional<Json> fail(std::string& error, const char* why) {
    error = std::string(why) + " (at byte " + std::to_string(pos_) + ")";
    return std::nullopt;
  }
  bool bad(const char* why) {
    error_ = why;
    return false;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return bad("an unknown literal");
    pos_ += word.size();
    return true;
  }

  bool read_value(Json& out, int depth) {
    // A value costs ~90 bytes here and as little as 2 in the text ("0,"):
    // etcd's answers spend at least 10 bytes on each (a watch's delete
    // event is the densest), so more than one per 8 is an answer built to
    // swell memory.
    if (values_left_-- == 0) return bad("too many JSON values for its size");
    skip_space();
    switch (peek()) {
      case '{':
        return read_object(out, depth + 1);
      case '[':
        return read_array(out, depth + 1);
      case '"':
        out.type = Json::Type::string;
        return read_string(out.text);
      case 't':
        out.type = Json::Type::boolean;
        out.boolean = true;
        return literal("true");
      case 'f':
        out.type = Json::Type::boolean;
        return literal("false");
      case 'n':
        out.type = Json::Type::null;
        return literal("null");
      default:
        out.type = Json::Type::number;
        return read_number(out.text);
    }
  }

  bool read_object(Json& out, int depth) {
    if (depth > kMaxJsonDepth) return bad("JSON nested too deeply");
    out.type = Json::Type::object;
    ++pos_;  // '{'
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_space();
      if (peek() != '"') return bad("an object member without a name");
      std::string name;
      if (!read_string(name)) return false;
      skip_space();
      if (peek() != ':') return bad("a member name without ':'");
      ++pos_;
      out.names.push_back(std::move(name));
      out.items.emplace_back();
      if (!read_value(out.items.back(), depth)) return false;
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      return bad("an object without '}'");
    }
  }

  bool read_array(Json& out, int depth) {
    if (depth > kMaxJsonDepth) return bad("JSON nested too deeply");
    out.type = Json::Type::array;
    ++pos_;  // '['
    skip_space();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      out.items.emplace_back();
      if (!read_value(out.items.back(), depth)) return false;
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      return bad("an array without ']'");
    }
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool read_number(std::string& out) {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
        ++pos_;
      return pos_ > from;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (!digits()) {
      return bad("not a JSON value");
    }
    if (peek() == '.') {
      ++pos_;
      if (!digits()) return bad("a number without digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!digits()) return bad("a number without exponent digits");
    }
    out.assign(text_.substr(start, pos_ - start));
    return true;
  }

  bool read_hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) return bad("a \\u escape cut short");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return bad("a \\u escape with a non-hex digit");
      }
    }
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // RFC 8259 §7; UTF-16 surrogates must come in pairs.
  bool read_unicode_escape(std::string& out) {
    std::uint32_t cp = 0;
    if (!read_hex4(cp)) return false;
    if (cp >= 0xdc00 && cp <= 0xdfff) return bad("a lone low surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
      std::uint32_t low = 0;
      if (text_.substr(pos_, 2) != "\\u") return bad("a lone high surrogate");
      pos_ += 2;
      if (!read_hex4(low)) return false;
      if (low < 0xdc00 || low > 0xdfff) return bad("a high surrogate without its low one");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    append_utf8(out, cp);
    return true;
  }

  bool read_string(std::string& out) {
    ++pos_;  // '"'
    for (;;) {
      // The plain run up to the next quote, backslash or control byte.
      const std::size_t from = pos_;
      while (pos_ < text_.size()) {
        const auto c = static_cast<unsigned char>(text_[pos_]);
        if (c == '"' || c == '\\' || c < 0x20) break;
        ++pos_;
      }
      out.append(text_.substr(from, pos_ - from));
      if (at_end()) return bad("a string without its closing quote");
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c != '\\') return bad("a control character inside a string");
      if (at_end()) return bad("a string without its closing quote");
      switch (text_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          if (!read_unicode_escape(out)) return false;
          break;
        default:
          return bad("an unknown escape in a string");
      }
    }
  }

  static constexpr std::size_t kMinBytesPerValue = 8;

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t values_left_;
  const char* error_ = "";
};

const std::string* scalar_text(const Json* node) {
  if (node == nullptr) return nullptr;
  if (node->type != Json::Type::string && node->type != Json::Type::number) return nullptr;
  return &node->text;
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
  return observe::json_quoted(text);
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

const Json* Json::get(std::string_view name) const {
  if (type != Type::object) return nullptr;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return &items[i];
  }
  return nullptr;
}

std::optional<Json> parse_json_object(std::string_view text, std::string& error) {
  return Reader(text).document(error);
}

const Json* member(const Json* node, const char* name) {
  return node == nullptr ? nullptr : node->get(name);
}

// int64 comes as a string ("12") in proto3 JSON; a number is read too.
std::optional<std::int64_t> int64_member(const Json* node, const char* name) {
  const Json* m = member(node, name);
  if (m == nullptr) return 0;
  const std::string* text = scalar_text(m);
  if (text == nullptr || text->empty()) return std::nullopt;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

std::optional<std::string> bytes_member(const Json* node, const char* name) {
  const Json* m = member(node, name);
  if (m == nullptr) return std::string();
  if (m->type != Json::Type::string) return std::nullopt;
  return base64_decode(m->text);
}

std::optional<std::string> string_member(const Json* node, const char* name) {
  const Json* m = member(node, name);
  if (m == nullptr) return std::string();
  if (m->type != Json::Type::string) return std::nullopt;
  return m->text;
}

std::optional<bool> bool_member(const Json* node, const char* name) {
  const Json* m = member(node, name);
  if (m == nullptr) return false;
  if (m->type != Json::Type::boolean) return std::nullopt;
  return m->boolean;
}

const std::vector<Json>* array_member(const Json* node, const char* name) {
  static const std::vector<Json> kNone;
  const Json* m = member(node, name);
  if (m == nullptr) return &kNone;
  return m->type == Json::Type::array ? &m->items : nullptr;
}

}  // namespace sluice::fleet::wire
