// The Prometheus text exposition format, version 0.0.4: what /metrics
// answers. A family is announced once (# HELP and # TYPE), then its
// samples follow, one line each.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::observe {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType : std::uint8_t { counter, gauge, histogram };

// A label and its value. Values are names from the configuration or from
// requests: anything goes in them, the writer escapes them.
using Label = std::pair<std::string_view, std::string_view>;

class MetricsWriter {
 public:
  // Starts a family: every sample written after it, up to the next
  // family(), must be of it (a histogram's _bucket, _sum and _count too).
  void family(std::string_view name, MetricType type, std::string_view help);

  void sample(std::string_view name, std::span<const Label> labels, std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  void sample(std::string_view name, std::span<const Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  // A histogram's series: `buckets[i]` counts observations in bucket i
  // alone (not cumulated; the last one is +Inf), `bounds` are the upper
  // bounds in seconds of all buckets but the last, `sum` is in seconds.
  void histogram(std::string_view name, std::span<const Label> labels,
                 std::span<const std::uint64_t> buckets, std::span<const double> bounds,
                 double sum);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view name, std::string_view suffix, std::span<const Label> labels,
              const Label* extra);
  std::string out_;
};

// `value` as a label value: backslash, double quote and line feed escaped
// (the exposition format's three escapes).
void append_label_value(std::string& out, std::string_view value);

}  // namespace sluice::observe
