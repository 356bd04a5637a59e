// Character classes and small comparisons of RFC 9110 §5.6.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

// A constant for iequals_literal: lowercase letters, digits and '-' only,
// checked when compiled. An uppercase letter or another character would
// never match, silently; here it does not compile.
template <std::size_t N>
struct LowercaseName {
  consteval LowercaseName(const char (&s)[N]) {  // NOLINT(google-explicit-constructor)
    for (std::size_t i = 0; i + 1 < N; ++i) {
      const char c = s[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        throw "iequals_literal: a constant of lowercase letters, digits and '-'";
      }
      text[i] = c;
    }
    text[N - 1] = '\0';
  }
  static constexpr std::size_t size() { return N - 1; }
  char text[N] = {};
};

// `s` equals the constant `Lower` but for ASCII case:
// `iequals_literal<"content-length">(name)`. For what the parser accepted
// (field names, values, list items: no control character but HTAB) OR-ing
// 0x20 into a byte gives one of the constant's characters only from itself
// or its uppercase letter, so whole words are compared at once, inline.
// Other text belongs with iequals.
template <LowercaseName Lower>
inline bool iequals_literal(std::string_view s) {
  constexpr std::size_t n = Lower.size();
  static_assert(n > 0);
  if (s.size() != n) return false;
  const char* p = s.data();
  const char* lower = Lower.text;
  const auto same = [&](std::size_t at, auto word) {
    decltype(word) a;
    decltype(word) b;
    std::memcpy(&a, p + at, sizeof a);
    std::memcpy(&b, lower + at, sizeof b);
    return (a | static_cast<decltype(word)>(0x2020202020202020ULL)) == b;
  };
  if constexpr (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      if (!same(i, std::uint64_t{})) return false;
    }
    return same(n - 8, std::uint64_t{});  // overlapping the word before
  } else if constexpr (n >= 4) {
    return same(0, std::uint32_t{}) && same(n - 4, std::uint32_t{});
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      if ((p[i] | 0x20) != lower[i]) return false;
    }
    return true;
  }
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
