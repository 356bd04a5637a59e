#include "http/serializer.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <regex>
#include <string>

#include "http/parser.h"

namespace sluice::http {
namespace {

TEST(Serializer, ResponseHeadRoundTripsThroughTheParser) {
  std::array<char, 256> out;
  const HeaderField fields[] = {{"Content-Length", "5"}, {"X-A", "b"}};
  const std::size_t n = write_response_head(out, 200, fields);
  ASSERT_GT(n, 0u);
  std::array<HeaderField, 8> storage;
  ResponseParser p({}, storage);
  ASSERT_EQ(p.parse(std::string_view(out.data(), n), Method::GET), ParseState::complete);
  EXPECT_EQ(p.head().status, 200);
  EXPECT_EQ(p.head().reason, "OK");
  EXPECT_EQ(p.head().framing, Framing::content_length);
  EXPECT_EQ(p.head().content_length, 5u);
}

TEST(Serializer, RequestHeadRoundTripsThroughTheParser) {
  std::array<char, 256> out;
  const HeaderField fields[] = {{"Host", "example.com"}};
  const std::size_t n = write_request_head(out, "GET", "/users/42", fields);
  std::array<HeaderField, 8> storage;
  RequestParser p({}, storage);
  ASSERT_EQ(p.parse(std::string_view(out.data(), n)), ParseState::complete);
  EXPECT_EQ(p.head().target, "/users/42");
  EXPECT_EQ(p.head().host, "example.com");
}

TEST(Serializer, HeadThatDoesNotFitWritesNothing) {
  std::array<char, 10> out;
  EXPECT_EQ(write_response_head(out, 200, {}), 0u);
}

TEST(Serializer, DateFieldIsAnImfFixdate) {
  char out[kDateFieldBytes];
  ASSERT_EQ(write_date_field(out), kDateFieldBytes);
  const std::string s(out, kDateFieldBytes);
  EXPECT_TRUE(std::regex_match(
      s, std::regex("Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d\\d [A-Z][a-z][a-z] \\d{4} "
                    "\\d\\d:\\d\\d:\\d\\d GMT\r\n")))
      << s;
}

TEST(Serializer, ChunkSizeIsHex) {
  char out[20];
  EXPECT_EQ(std::string(out, write_chunk_size(out, 255)), "ff\r\n");
  EXPECT_EQ(std::string(out, write_chunk_size(out, 0)), "0\r\n");
}

TEST(Serializer, ChunkSizeLineOfTheLargestSizeFitsEighteenBytes) {
  // The contract is 18 bytes: a terminating NUL past them would overrun.
  char out[19];
  out[18] = '#';
  EXPECT_EQ(std::string(out, write_chunk_size(out, UINT64_MAX)), "ffffffffffffffff\r\n");
  EXPECT_EQ(out[18], '#');
}

TEST(Serializer, StatusOutsideTheHttpRangeWritesNothing) {
  // RFC 9110 §15: three digits, 100 to 599; anything else is no response.
  std::array<char, 256> out;
  EXPECT_EQ(write_response_head(out, 1200, {}), 0u);
  EXPECT_EQ(write_response_head(out, 99, {}), 0u);
  EXPECT_EQ(write_response_head(out, -200, {}), 0u);
  EXPECT_GT(write_response_head(out, 599, {}), 0u);
}

TEST(Serializer, ReasonPhrases) {
  EXPECT_STREQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(reason_phrase(599), "Server Error");
}

}  // namespace
}  // namespace sluice::http
