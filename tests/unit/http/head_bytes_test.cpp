// The SIMD scans a head's bytes go through (http/head_bytes.h) against a
// byte-by-byte reading of the same rule, at every length, start and
// position: a whole vector, the overlapping last load, and the short tail.
#include "http/head_bytes.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::http {
namespace {

std::size_t line_feed_by_bytes(const std::string& s, std::size_t from) {
  const std::size_t i = s.find('\n', from);
  return i == std::string::npos ? head_bytes::kNotFound : i;
}

std::size_t control_by_bytes(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return i;
  }
  return s.size();
}

TEST(HeadBytes, FindLineFeedFindsTheFirstAfterTheStartAtEveryLengthAndPlace) {
  for (std::size_t n = 0; n <= 70; ++n) {
    for (std::size_t from = 0; from <= n; ++from) {
      std::string s(n, 'a');
      ASSERT_EQ(head_bytes::find_line_feed(s.data(), from, n), head_bytes::kNotFound)
          << n << " " << from;
      for (std::size_t at = 0; at < n; ++at) {
        std::string t = s;
        t[at] = '\n';
        if (at + 3 < n) t[at + 3] = '\n';  // a later one must not win
        ASSERT_EQ(head_bytes::find_line_feed(t.data(), from, n), line_feed_by_bytes(t, from))
            << n << " " << from << " " << at;
      }
    }
  }
}

TEST(HeadBytes, FindControlStopsAtTheFirstControlByteAndOnlyThere) {
  // DEL and every byte below a space are control characters; 0x80 and up
  // (obs-text) and tab's neighbours in the printable range are not.
  const unsigned char controls[] = {0x00, '\t', '\n', '\r', 0x1f, 0x7f};
  const unsigned char others[] = {' ', '~', 0x80, 0xff, 'z'};
  for (std::size_t n = 0; n <= 70; ++n) {
    for (unsigned char filler : others) {
      std::string s(n, static_cast<char>(filler));
      ASSERT_EQ(head_bytes::find_control(s.data(), n), n) << n << " " << int(filler);
      for (std::size_t at = 0; at < n; ++at) {
        for (unsigned char c : controls) {
          std::string t = s;
          t[at] = static_cast<char>(c);
          if (at + 5 < n) t[at + 5] = '\r';
          ASSERT_EQ(head_bytes::find_control(t.data(), n), control_by_bytes(t))
              << n << " " << at << " " << int(c);
        }
      }
    }
  }
}

// The scans read only what they are given: a control byte or line feed
// just past the end is not found (ASan would flag a read beyond a heap
// string's end; this checks the answer).
TEST(HeadBytes, BytesPastTheEndAreNeverFound) {
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string s(n + 16, '\n');
    for (std::size_t i = 0; i < n; ++i)
      s[i] = 'a';
    EXPECT_EQ(head_bytes::find_line_feed(s.data(), 0, n), head_bytes::kNotFound) << n;
    EXPECT_EQ(head_bytes::find_control(s.data(), n), n) << n;
  }
}

}  // namespace
}  // namespace sluice::http
