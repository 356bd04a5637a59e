#include "support/json_reader.h"

#include <cstdlib>

namespace sluice::test {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}

  bool document(JsonValue& out) {
    space();
    if (!value(out, 0)) return false;
    space();
    return i_ == t_.size() || fail("trailing bytes");
  }
  std::string error;

 private:
  bool fail(const std::string& why) {
    if (error.empty()) error = why + " at byte " + std::to_string(i_);
    return false;
  }
  void space() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  bool literal(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) return fail("bad literal");
    i_ += word.size();
    return true;
  }
  bool value(JsonValue& out, int depth) {
    if (depth > 64) return fail("too deep");
    if (i_ >= t_.size()) return fail("expected a value");
    switch (t_[i_]) {
      case '{':
        out.type = JsonValue::Type::object;
        return object(out, depth);
      case '[':
        out.type = JsonValue::Type::array;
        return array(out, depth);
      case '"':
        out.type = JsonValue::Type::string;
        return string(out.text);
      case 't':
        out.type = JsonValue::Type::boolean;
        out.boolean = true;
        return literal("true");
      case 'f':
        out.type = JsonValue::Type::boolean;
        return literal("false");
      case 'n':
        out.type = JsonValue::Type::null;
        return literal("null");
      default:
        out.type = JsonValue::Type::number;
        return number(out);
    }
  }
  bool object(JsonValue& out, int depth) {
    ++i_;
    space();
    if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
    while (true) {
      space();
      std::string key;
      if (i_ >= t_.size() || t_[i_] != '"' || !string(key)) return fail("expected a key");
      space();
      if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
      ++i_;
      space();
      JsonValue v;
      if (!value(v, depth + 1)) return false;
      out.members.emplace_back(std::move(key), std::move(v));
      space();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
      return fail("expected ',' or '}'");
    }
  }
  bool array(JsonValue& out, int depth) {
    ++i_;
    space();
    if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
    while (true) {
      space();
      JsonValue v;
      if (!value(v, depth + 1)) return false;
      out.items.push_back(std::move(v));
      space();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
      return fail("expected ',' or ']'");
    }
  }
  bool digits() {
    const std::size_t start = i_;
    while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9')
      ++i_;
    return i_ > start;
  }
  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool number(JsonValue& out) {
    const std::size_t start = i_;
    if (t_[i_] == '-') ++i_;
    if (i_ < t_.size() && t_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return fail("bad number");
    }
    if (i_ < t_.size() && t_[i_] == '.') {
      ++i_;
      if (!digits()) return fail("bad fraction");
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
      if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      if (!digits()) return fail("bad exponent");
    }
    out.text = std::string(t_.substr(start, i_ - start));
    out.number = std::strtod(out.text.c_str(), nullptr);
    return true;
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool hex4(unsigned& out) {
    if (i_ + 4 > t_.size()) return fail("short \\u escape");
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = t_[i_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return fail("bad hex digit");
      }
    }
    return true;
  }
  bool escape(std::string& out) {
    if (i_ >= t_.size()) return fail("unfinished escape");
    const char c = t_[i_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
        out += c;
        return true;
      case 'b':
        out += '\b';
        return true;
      case 'f':
        out += '\f';
        return true;
      case 'n':
        out += '\n';
        return true;
      case 'r':
        out += '\r';
        return true;
      case 't':
        out += '\t';
        return true;
      case 'u': {
        unsigned cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xdc00 && cp <= 0xdfff) return fail("lone low surrogate");
        if (cp >= 0xd800 && cp <= 0xdbff) {
          unsigned low = 0;
          if (t_.substr(i_, 2) != "\\u") return fail("lone high surrogate");
          i_ += 2;
          if (!hex4(low) || low < 0xdc00 || low > 0xdfff) return fail("bad surrogate pair");
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        put_utf8(out, cp);
        return true;
      }
      default:
        return fail("unknown escape");
    }
  }
  // The bytes of one well-formed UTF-8 character (RFC 3629 §4), or 0.
  std::size_t utf8_length() const {
    const auto b = [this](std::size_t k) {
      return i_ + k < t_.size() ? static_cast<unsigned char>(t_[i_ + k]) : 0u;
    };
    const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
      return b(k) >= lo && b(k) <= hi;
    };
    const unsigned c = b(0);
    if (c >= 0xc2 && c <= 0xdf && cont(1)) return 2;
    if (c == 0xe0 && cont(1, 0xa0) && cont(2)) return 3;
    if (((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) && cont(1) && cont(2)) return 3;
    if (c == 0xed && cont(1, 0x80, 0x9f) && cont(2)) return 3;
    if (c == 0xf0 && cont(1, 0x90) && cont(2) && cont(3)) return 4;
    if (c >= 0xf1 && c <= 0xf3 && cont(1) && cont(2) && cont(3)) return 4;
    if (c == 0xf4 && cont(1, 0x80, 0x8f) && cont(2) && cont(3)) return 4;
    return 0;
  }
  bool string(std::string& out) {
    ++i_;  // the opening quote
    while (true) {
      if (i_ >= t_.size()) return fail("unterminated string");
      const auto c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return fail("raw control character in a string");
      if (c == '\\') {
        ++i_;
        if (!escape(out)) return false;
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      const std::size_t n = utf8_length();
      if (n == 0) return fail("invalid UTF-8 in a string");
      out.append(t_.substr(i_, n));
      i_ += n;
    }
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

}  // namespace

const JsonValue* JsonValue::get(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

std::optional<JsonValue> parse_json(std::string_view text, std::string* error) {
  Reader r(text);
  JsonValue v;
  if (!r.document(v)) {
    if (error != nullptr) *error = r.error;
    return std::nullopt;
  }
  return v;
}

}  // namespace sluice::test
