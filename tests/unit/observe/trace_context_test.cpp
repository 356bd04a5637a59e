// W3C trace context (issue 19): traceparent read strictly and written, and
// the random ids a worker gives requests, traces and spans.
#include "observe/trace_context.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <string_view>

namespace sluice::observe {
namespace {

constexpr std::string_view kTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr std::string_view kParent = "b7ad6b7169203331";

std::string traceparent(std::string_view version, std::string_view trace, std::string_view parent,
                        std::string_view flags) {
  return std::string(version) + "-" + std::string(trace) + "-" + std::string(parent) + "-" +
         std::string(flags);
}

std::string_view view(const auto& a) {
  return {a.data(), a.size()};
}

TEST(TraceParent, TheSpecificationsExampleIsReadWithItsSampledFlag) {
  const auto p = parse_traceparent(traceparent("00", kTrace, kParent, "01"));
  ASSERT_TRUE(p);
  EXPECT_EQ(view(p->trace_id), kTrace);
  EXPECT_EQ(view(p->parent_id), kParent);
  EXPECT_TRUE(p->sampled());
  const auto q = parse_traceparent(traceparent("00", kTrace, kParent, "00"));
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->sampled());
}

TEST(TraceParent, InvalidValuesStartANewTrace) {
  const std::string upper_trace = "0AF7651916CD43DD8448EB211C80319C";
  for (const std::string& bad : {
           traceparent("00", upper_trace, kParent, "01"),           // HEXDIGLC only
           traceparent("00", kTrace, "B7AD6B7169203331", "01"),     // same
           traceparent("00", kTrace, kParent, "0A"),                // same
           traceparent("00", std::string(32, '0'), kParent, "01"),  // all-zero trace id
           traceparent("00", kTrace, std::string(16, '0'), "01"),   // all-zero parent id
           traceparent("ff", kTrace, kParent, "01"),                // version ff is invalid
           traceparent("0g", kTrace, kParent, "01"),                // not hex
           traceparent("00", kTrace, kParent, "01") + "-",          // 00 has four fields
           traceparent("00", kTrace, kParent, "01") + " ",          // ... and nothing else
           traceparent("00", kTrace.substr(1), kParent, "01"),      // short trace id
           traceparent("00", kTrace, kParent.substr(1), "01"),      // short parent id
           traceparent("00", kTrace, kParent, "1"),                 // one flag digit
           traceparent("00", kTrace, kParent, "0x"),                // not hex
           "00_" + std::string(kTrace) + "-" + std::string(kParent) + "-01",  // separator
           traceparent("01", kTrace, kParent, "01") + "x",  // later version: '-' next
           std::string(),
           std::string("00"),
       }) {
    EXPECT_FALSE(parse_traceparent(bad)) << "'" << bad << "'";
  }
}

// trace-context §4.3: a later version is read for the fields this one
// knows when they are followed by the end or by a '-'.
TEST(TraceParent, ALaterVersionIsReadForTheFieldsThisOneKnows) {
  const auto p = parse_traceparent(traceparent("01", kTrace, kParent, "01") + "-what-comes-next");
  ASSERT_TRUE(p);
  EXPECT_EQ(view(p->trace_id), kTrace);
  EXPECT_TRUE(parse_traceparent(traceparent("cc", kTrace, kParent, "00")));
}

TEST(TraceParent, OursNamesOurSpanAsTheParentAndCarriesOnlyTheSampledFlag) {
  TraceContext t;
  std::copy(kTrace.begin(), kTrace.end(), t.trace_id.begin());
  const std::string_view span = "00f067aa0ba902b7";
  std::copy(span.begin(), span.end(), t.span_id.begin());
  std::copy(kParent.begin(), kParent.end(), t.parent_id.begin());
  t.sampled = true;
  t.valid = true;
  const auto out = format_traceparent(t);
  EXPECT_EQ(view(out), "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01");
  t.sampled = false;
  const auto unsampled = format_traceparent(t);
  EXPECT_EQ(view(unsampled), "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-00");
  const auto again = parse_traceparent(view(unsampled));
  ASSERT_TRUE(again) << "what we write, we read";
  EXPECT_EQ(view(again->parent_id), span);
}

TEST(RandomIds, AreLowercaseHexNeverZeroAndDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {
    char id[32];
    random_hex_id(id, sizeof id);
    const std::string s(id, sizeof id);
    ASSERT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos) << s;
    ASSERT_NE(s, std::string(32, '0'));
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 10'000u);
  char span[16];
  random_hex_id(span, sizeof span);
  EXPECT_EQ(std::string_view(span, 16).find_first_not_of("0123456789abcdef"),
            std::string_view::npos);
}

TEST(RandomIds, RequestIdsAreVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {
    char u[kUuidLength];
    random_uuid(u);
    const std::string s(u, sizeof u);
    ASSERT_EQ(s[8], '-') << s;
    ASSERT_EQ(s[13], '-') << s;
    ASSERT_EQ(s[18], '-') << s;
    ASSERT_EQ(s[23], '-') << s;
    ASSERT_EQ(s[14], '4') << "version 4: " << s;
    ASSERT_NE(std::string_view("89ab").find(s[19]), std::string_view::npos) << "variant: " << s;
    std::string digits = s;
    std::erase(digits, '-');
    ASSERT_EQ(digits.size(), 32u);
    ASSERT_EQ(digits.find_first_not_of("0123456789abcdef"), std::string::npos) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 10'000u);
}

// Ids are logged and searched for: each of their 122 random bits shows. A
// digit that never appears at some place (a nibble dropped, repeated or
// moved over the version's) would make ids collide far sooner than chance.
TEST(RandomIds, EveryHexDigitAppearsAtEveryRandomPlaceOfARequestId) {
  std::array<std::set<char>, kUuidLength> seen;
  for (int i = 0; i < 10'000; ++i) {
    char u[kUuidLength];
    random_uuid(u);
    for (std::size_t p = 0; p < kUuidLength; ++p)
      seen[p].insert(u[p]);
  }
  for (std::size_t p = 0; p < kUuidLength; ++p) {
    const std::size_t expected = (p == 8 || p == 13 || p == 18 || p == 23) ? 1  // '-'
                                 : p == 14                                 ? 1  // version 4
                                 : p == 19                                 ? 4  // variant 8..b
                                                                           : 16;
    EXPECT_EQ(seen[p].size(), expected) << "place " << p;
  }
}

TEST(Sampling, FollowsTheConfiguredProbability) {
  const auto count = [](double p) {
    const std::uint64_t threshold = sample_threshold(p);
    int picked = 0;
    for (int i = 0; i < 20'000; ++i)
      picked += pick_sampled(threshold) ? 1 : 0;
    return picked;
  };
  EXPECT_EQ(count(0.0), 0);
  EXPECT_EQ(count(1.0), 20'000);
  // 0.25 of 20,000: 5,000 with a standard deviation of about 61.
  const int quarter = count(0.25);
  EXPECT_GT(quarter, 4'500);
  EXPECT_LT(quarter, 5'500);
}

TEST(RequestIdCheck, KeepsOnlyBoundedVisibleAscii) {
  EXPECT_TRUE(acceptable_request_id("f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 64));
  EXPECT_TRUE(acceptable_request_id("lb1:req=42;x", 64));
  EXPECT_TRUE(acceptable_request_id(std::string(64, 'a'), 64));
  EXPECT_FALSE(acceptable_request_id(std::string(65, 'a'), 64));
  EXPECT_FALSE(acceptable_request_id("", 64));
  EXPECT_FALSE(acceptable_request_id("has space", 64));
  EXPECT_FALSE(acceptable_request_id("tab\there", 64));
  EXPECT_FALSE(acceptable_request_id("caf\xc3\xa9", 64));
  EXPECT_FALSE(acceptable_request_id(std::string_view("nul\0x", 5), 64));
}

}  // namespace
}  // namespace sluice::observe
