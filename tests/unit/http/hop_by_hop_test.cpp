#include "http/hop_by_hop.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "http/head_writer.h"

namespace sluice::http {
namespace {

TEST(HopByHopFields, StandardFieldsAreAlwaysHopByHop) {
  const HopByHopFields hop({});
  for (const char* name :
       {"Connection", "keep-alive", "Proxy-Connection", "TE", "Transfer-Encoding", "UPGRADE"}) {
    EXPECT_TRUE(hop.contains(name)) << name;
  }
  // Names of the same lengths as the hop-by-hop ones.
  for (const char* name :
       {"Host", "Content-Length", "X-Forwarded-For", "Trailer", "Cookie", "tf", "upgradf",
        "User-Agent", "keep-alivf", "proxy-connectiom", "transfer-encodinh"}) {
    EXPECT_FALSE(hop.contains(name)) << name;
  }
}

TEST(HopByHopFields, FieldsNamedByConnectionAreHopByHopInAnyCase) {
  const std::array<HeaderField, 3> fields = {
      {{"Connection", "close, X-Secret"}, {"connection", " ,x-other ,, "}, {"X-Secret", "1"}}};
  const HopByHopFields hop(fields);
  EXPECT_TRUE(hop.contains("x-secret"));
  EXPECT_TRUE(hop.contains("X-OTHER"));
  EXPECT_FALSE(hop.contains("X-Third"));
}

// contains() answers from the name's length when no hop-by-hop name has
// it: a listed name of any length, under 64 bytes or over, must still be
// found, and only it among the names of its length.
TEST(HopByHopFields, AListedNameIsFoundWhateverItsLengthAndOnlyIt) {
  for (std::size_t n = 1; n <= 80; ++n) {
    const std::string listed = "X" + std::string(n - 1, 'q');
    const std::string connection = "close, " + listed;
    const std::array<HeaderField, 1> fields = {{{"Connection", connection}}};
    const HopByHopFields hop(fields);
    EXPECT_TRUE(hop.contains("x" + std::string(n - 1, 'Q'))) << n;
    EXPECT_FALSE(hop.contains("Y" + std::string(n - 1, 'q'))) << n;
    EXPECT_FALSE(hop.contains("X" + std::string(n, 'q'))) << n;
  }
}

// Fields the parsers did not check (more names than it remembers): nothing
// is forwarded rather than the names it forgot.
TEST(HopByHopFields, ForgettingANameMakesEveryFieldHopByHop) {
  std::string many;
  for (std::size_t i = 0; i <= HopByHopFields::kMaxListed; ++i)
    many += "X-" + std::to_string(i) + ", ";
  const std::array<HeaderField, 1> fields = {{{"Connection", many}}};
  const HopByHopFields hop(fields);
  EXPECT_TRUE(hop.contains("X-16"));
  EXPECT_TRUE(hop.contains("Host"));
}

TEST(HeadWriter, StopsAtCapacityAndReportsOverflow) {
  std::array<char, 16> out;
  HeadWriter w(out);
  w.field("Host", "a");
  EXPECT_EQ(w.text(), "Host: a\r\n");
  w.field("X-Long", "0123456789");
  EXPECT_TRUE(w.overflow());
  const std::size_t at_overflow = w.size();
  EXPECT_LE(at_overflow, out.size());
  w.put("z");
  EXPECT_EQ(w.size(), at_overflow);  // nothing is written after an overflow
}

// A field line is written whole or not at all: one that fills the buffer
// to its last byte fits; one byte longer overflows and leaves the head as
// it was.
TEST(HeadWriter, AFieldLineFitsToTheLastByteAndOneMoreOverflows) {
  std::array<char, 16> out{};
  HeadWriter exact(out);
  exact.field("Name", "0123456789");  // 4 + 2 + 10 + 2 = 18: too long
  EXPECT_TRUE(exact.overflow());
  EXPECT_EQ(exact.size(), 0u);
  HeadWriter fits(out);
  fits.field("Name", "01234567");  // 4 + 2 + 8 + 2 = 16
  EXPECT_FALSE(fits.overflow());
  EXPECT_EQ(fits.text(), "Name: 01234567\r\n");
  HeadWriter empty_value(out);
  empty_value.field("X", "");
  EXPECT_EQ(empty_value.text(), "X: \r\n");
  empty_value.field("Y", "0123456789");  // 15 more: 5 + 15 > 16
  EXPECT_TRUE(empty_value.overflow());
  EXPECT_EQ(empty_value.text(), "X: \r\n");
}

}  // namespace
}  // namespace sluice::http
