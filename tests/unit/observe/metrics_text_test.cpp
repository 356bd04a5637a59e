#include "observe/metrics_text.h"

#include <gtest/gtest.h>

#include <array>

namespace sluice::observe {
namespace {

TEST(MetricsText, EscapesBackslashQuoteAndLineFeedInLabelValues) {
  MetricsWriter out;
  out.sample("x_total", {{"route", "a\\b\"c\nd"}}, std::uint64_t{3});
  EXPECT_EQ(out.text(), "x_total{route=\"a\\\\b\\\"c\\nd\"} 3\n");
}

TEST(MetricsText, AnnouncesEachFamilyWithHelpAndType) {
  MetricsWriter out;
  out.family("x_total", MetricType::counter, "Things.\nMore \\ things.");
  out.sample("x_total", {}, std::uint64_t{0});
  EXPECT_EQ(out.text(),
            "# HELP x_total Things.\\nMore \\\\ things.\n# TYPE x_total counter\nx_total 0\n");
}

TEST(MetricsText, HistogramBucketsAreCumulativeAndCountIsTheInfBucket) {
  MetricsWriter out;
  const std::array<std::uint64_t, 3> buckets{2, 0, 5};
  const std::array<double, 2> bounds{0.5, 1};
  const Label labels[] = {{"route", "r"}};
  out.histogram("d_seconds", labels, buckets, bounds, 2.25);
  EXPECT_EQ(out.text(),
            "d_seconds_bucket{route=\"r\",le=\"0.5\"} 2\n"
            "d_seconds_bucket{route=\"r\",le=\"1\"} 2\n"
            "d_seconds_bucket{route=\"r\",le=\"+Inf\"} 7\n"
            "d_seconds_sum{route=\"r\"} 2.25\n"
            "d_seconds_count{route=\"r\"} 7\n");
}

TEST(MetricsText, WritesFractionsAndWholeNumbersReadably) {
  MetricsWriter out;
  out.sample("g", {}, 1.5e9);
  out.sample("h", {}, 0.0005);
  EXPECT_EQ(out.text(), "g 1500000000\nh 0.0005\n");
}

}  // namespace
}  // namespace sluice::observe
