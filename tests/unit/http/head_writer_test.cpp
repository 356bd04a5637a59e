// HeadWriter copies a head's pieces with its own inline copy (copy_piece):
// every length, at every alignment, must land whole, in order, and touch no
// byte beyond the head.
#include "http/head_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::http {
namespace {

// A piece of `n` distinct-looking bytes starting at `seed`.
std::string piece(std::size_t n, int seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('!' + (seed + static_cast<int>(i) * 7) % 90);
  return s;
}

TEST(HeadWriter, EveryPieceLengthAtEveryAlignmentIsCopiedWholeAndNothingBesideIt) {
  for (std::size_t lead = 0; lead < 4; ++lead) {
    for (std::size_t n = 0; n <= 80; ++n) {
      const std::string before = piece(lead, 3);
      const std::string p = piece(n, static_cast<int>(n));
      std::vector<char> out(200, '#');
      HeadWriter w(std::span<char>(out.data(), out.size()));
      w.put(before);
      w.put(p);
      ASSERT_FALSE(w.overflow());
      ASSERT_EQ(w.text(), before + p) << "lead " << lead << ", length " << n;
      for (std::size_t i = w.size(); i < out.size(); ++i)
        ASSERT_EQ(out[i], '#') << "byte " << i << " written, lead " << lead << ", length " << n;
    }
  }
}

TEST(HeadWriter, EveryNameAndValueLengthMakesOneExactFieldLine) {
  for (std::size_t name_size = 0; name_size <= 40; ++name_size) {
    for (std::size_t value_size = 0; value_size <= 40; ++value_size) {
      const std::string name = piece(name_size, 1);
      const std::string value = piece(value_size, 2);
      std::vector<char> out(100, '#');
      HeadWriter w(std::span<char>(out.data(), out.size()));
      w.put("x");  // odd alignment
      w.field(name, value);
      ASSERT_EQ(w.text(), "x" + name + ": " + value + "\r\n")
          << "name " << name_size << ", value " << value_size;
      for (std::size_t i = w.size(); i < out.size(); ++i)
        ASSERT_EQ(out[i], '#') << "byte " << i << " written";
    }
  }
}

TEST(HeadWriter, APieceThatDoesNotFitWritesNothingAndSaysSo) {
  std::vector<char> out(20, '#');
  HeadWriter w(std::span<char>(out.data(), 10));
  w.put("12345678");
  w.put("abc");  // 11 > 10
  EXPECT_TRUE(w.overflow());
  EXPECT_EQ(w.text(), "12345678");
  EXPECT_EQ(std::string(out.data() + 8, 12), std::string(12, '#'));
}

}  // namespace
}  // namespace sluice::http
