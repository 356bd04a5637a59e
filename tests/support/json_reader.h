// A strict JSON reader for tests (RFC 8259), written apart from anything in
// src/ so that it is an oracle: a text it accepts is valid JSON (strings
// hold well-formed UTF-8 and no raw control character, numbers have the
// grammar's shape, nothing trails the value), and strings come back decoded
// (escapes and surrogate pairs resolved, as UTF-8).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::test {

struct JsonValue {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  double number = 0;
  std::string text;  // a string's decoded bytes, or a number as written
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members;  // in order

  bool is_null() const { return type == Type::null; }
  // An object's member, or null when absent (or not an object).
  const JsonValue* get(std::string_view key) const;
};

// nullopt (with `error` set, when given) unless `text` is exactly one JSON
// value, surrounded by nothing but whitespace.
std::optional<JsonValue> parse_json(std::string_view text, std::string* error = nullptr);

}  // namespace sluice::test
