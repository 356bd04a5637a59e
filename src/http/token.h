// Character classes and small comparisons of RFC 9110 §5.6.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::http {

// A byte class as a table: letters, digits and `symbols` (tchar below; a
// Host's reg-name in the parser).
constexpr std::array<bool, 256> alphanumeric_and(std::string_view symbols) {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c)
    t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c)
    t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[c] = true;
  for (char c : symbols)
    t[static_cast<unsigned char>(c)] = true;
  return t;
}

// tchar: "!#$%&'*+-.^_`|~", digits, letters. Inline: the parsers ask it
// for every byte of every field name.
extern const std::array<bool, 256> kTokenChars;
inline bool is_token_char(unsigned char c) {
  return kTokenChars[c];
}
bool is_token(std::string_view s);
// Field value characters: VCHAR, obs-text, SP and HTAB (no other controls).
inline bool is_field_value_char(unsigned char c) {
  return c >= 0x20 ? c != 0x7f : c == '\t';
}
// Case-insensitive equality (field names, tokens). Most comparisons of
// field names differ in length or in their first letter: those tests are
// inline (bytes equal but for 0x20 are the only ones ASCII case folding can
// make equal), the loop over the rest is not.
bool iequals_same_size(const char* a, const char* b, std::size_t n);
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  if ((a.front() | 0x20) != (b.front() | 0x20)) return false;
  return iequals_same_size(a.data(), b.data(), a.size());
}

// Walks a comma-separated list ("close, Upgrade"), trimming white space and
// skipping empty elements (RFC 9110 §5.6.1).
class ListTokens {
 public:
  explicit ListTokens(std::string_view list) : rest_(list) {}
  bool next(std::string_view& item);

 private:
  std::string_view rest_;
};

}  // namespace sluice::http
