#include "observe/metrics_text.h"

#include <charconv>
#include <cmath>

namespace sluice::observe {
namespace {

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
    case MetricType::counter:
      break;
  }
  return "counter";
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
}

// Shortest text that reads back as `v`; the format's spellings of the
// special values.
void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  // Plain decimals where they stay short (a bucket's le="0.0005" is what
  // queries spell), the shortest form elsewhere; both read back exactly.
  const double magnitude = std::fabs(v);
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  char buf[64];
  const auto end = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed).ptr
                         : std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
}

// HELP text escapes backslash and line feed only.
void append_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void MetricsWriter::family(std::string_view name, MetricType type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_help(out_, help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void MetricsWriter::series(std::string_view name, std::string_view suffix,
                           std::span<const Label> labels, const Label* extra) {
  out_ += name;
  out_ += suffix;
  if (labels.empty() && extra == nullptr) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  const auto one = [&](const Label& l) {
    if (!first) out_ += ',';
    first = false;
    out_ += l.first;
    out_ += "=\"";
    append_label_value(out_, l.second);
    out_ += '"';
  };
  for (const Label& l : labels)
    one(l);
  if (extra != nullptr) one(*extra);
  out_ += "} ";
}

void MetricsWriter::sample(std::string_view name, std::span<const Label> labels,
                           std::uint64_t value) {
  series(name, "", labels, nullptr);
  append_number(out_, value);
  out_ += '\n';
}

void MetricsWriter::sample(std::string_view name, std::span<const Label> labels, double value) {
  series(name, "", labels, nullptr);
  append_number(out_, value);
  out_ += '\n';
}

void MetricsWriter::histogram(std::string_view name, std::span<const Label> labels,
                              std::span<const std::uint64_t> buckets,
                              std::span<const double> bounds, double sum) {
  std::uint64_t cumulative = 0;
  std::string le;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    le.clear();
    if (i < bounds.size()) {
      append_number(le, bounds[i]);
    } else {
      le = "+Inf";
    }
    const Label bound{"le", le};
    series(name, "_bucket", labels, &bound);
    append_number(out_, cumulative);
    out_ += '\n';
  }
  series(name, "_sum", labels, nullptr);
  append_number(out_, sum);
  out_ += '\n';
  // The count is the +Inf bucket's, by construction: a scrape between a
  // worker's two stores can never show them apart.
  series(name, "_count", labels, nullptr);
  append_number(out_, cumulative);
  out_ += '\n';
}

}  // namespace sluice::observe
