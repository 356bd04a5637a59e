// Case-insensitive comparison of field names (RFC 9110 §5.1: field names
// are case-insensitive), compared eight bytes at a time: only 'A'..'Z' and
// 'a'..'z' may meet their other case, at every offset of names up to 24
// bytes; the bytes that differ from each other only by 0x20 elsewhere
// ('@' and '`', '[' and '{', 0xc1 and 0xe1...) stay different.
#include <gtest/gtest.h>

#include <string>

#include "http/token.h"

namespace sluice::http {
namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool reference_iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

TEST(Iequals, EveryByteAgainstItsCaseFlipAtEveryOffset) {
  for (std::size_t length = 1; length <= 24; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (int c = 0; c < 256; ++c) {
        std::string a(length, 'k');
        std::string b = a;
        a[at] = static_cast<char>(c);
        b[at] = static_cast<char>(c ^ 0x20);
        ASSERT_EQ(iequals(a, b), reference_iequals(a, b))
            << "byte 0x" << std::hex << c << " at " << std::dec << at << " of " << length;
        b[at] = static_cast<char>(c);
        ASSERT_TRUE(iequals(a, b));
      }
    }
  }
}

TEST(Iequals, FieldNamesMeetTheirSpellings) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("TRANSFER-ENCODING", "transfer-encoding"));
  EXPECT_FALSE(iequals("content-length", "content-lengtH "));
  EXPECT_FALSE(iequals("Content-Lengt@", "content-length"));
  EXPECT_FALSE(iequals("x", ""));
  EXPECT_TRUE(iequals("", ""));
}

// iequals_literal compares what the parser accepted (no control character
// but HTAB) against lowercase constants: every such byte, at every offset of
// constants of one to twenty bytes (the byte loop, the two half words, the
// words and the overlapping last word), matches exactly when
// reference_iequals says so, and a length that differs never matches.
template <LowercaseName Lower>
void expect_literal_matches_reference() {
  const std::string literal(Lower.text, Lower.size());
  for (std::size_t at = 0; at < literal.size(); ++at) {
    for (int c = 0; c < 256; ++c) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) continue;  // refused by the parser
      std::string s = literal;
      s[at] = static_cast<char>(c);
      ASSERT_EQ(iequals_literal<Lower>(s), reference_iequals(s, literal))
          << literal << ": byte 0x" << std::hex << c << " at " << std::dec << at;
    }
  }
  std::string upper = literal;
  for (char& c : upper)
    c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
  EXPECT_TRUE(iequals_literal<Lower>(upper)) << upper;
  EXPECT_FALSE(iequals_literal<Lower>(literal + "s"));
  EXPECT_FALSE(iequals_literal<Lower>(literal.substr(1)));
}

TEST(IequalsLiteral, EveryAcceptedByteAtEveryOffsetMatchesExactlyItsOwnCases) {
  expect_literal_matches_reference<"te">();
  expect_literal_matches_reference<"host">();
  expect_literal_matches_reference<"close">();
  expect_literal_matches_reference<"chunked">();
  expect_literal_matches_reference<"trailers">();
  expect_literal_matches_reference<"keep-alive">();
  expect_literal_matches_reference<"100-continue">();
  expect_literal_matches_reference<"content-length">();
  expect_literal_matches_reference<"transfer-encoding">();
  expect_literal_matches_reference<"proxy-authorization2">();
}

}  // namespace
}  // namespace sluice::http
