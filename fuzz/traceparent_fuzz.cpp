// traceparent (W3C trace context §3.2, §4.3): whatever the bytes, the
// parser agrees with a naive reference written field by field from the
// specification's grammar; what it accepts has lowercase hex ids that are
// not all zeros; and the traceparent we write from what it read is read
// back to the same trace, parent and sampled flag.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "observe/trace_context.h"

namespace {

using sluice::observe::TraceContext;
using sluice::observe::TraceParent;

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// The grammar, the slow way: split on '-' and check each field.
bool reference(std::string_view v, std::string& trace, std::string& parent, int& flags) {
  std::string_view fields[5];
  std::size_t n = 0;
  std::size_t start = 0;
  while (n < 5) {
    const std::size_t dash = v.find('-', start);
    fields[n++] = v.substr(start, dash == std::string_view::npos ? dash : dash - start);
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (n < 4) return false;
  const auto hex_of_size = [](std::string_view f, std::size_t size) {
    if (f.size() != size) return false;
    for (char c : f)
      if (!is_lower_hex(c)) return false;
    return true;
  };
  const auto not_zero = [](std::string_view f) { return f.find_first_not_of('0') != f.npos; };
  if (!hex_of_size(fields[0], 2) || fields[0] == "ff") return false;
  if (!hex_of_size(fields[1], 32) || !not_zero(fields[1])) return false;
  if (!hex_of_size(fields[2], 16) || !not_zero(fields[2])) return false;
  if (!hex_of_size(fields[3], 2)) return false;
  // Version 00: exactly four fields. A later one: anything may follow a
  // fifth '-'.
  if (fields[0] == "00" && n != 4) return false;
  trace = fields[1];
  parent = fields[2];
  flags = std::stoi(std::string(fields[3]), nullptr, 16);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view v(reinterpret_cast<const char*>(data), size);
  const auto parsed = sluice::observe::parse_traceparent(v);
  std::string trace;
  std::string parent;
  int flags = 0;
  const bool ok = reference(v, trace, parent, flags);
  if (ok != parsed.has_value()) std::abort();
  if (!parsed) return 0;
  const std::string_view got_trace(parsed->trace_id.data(), parsed->trace_id.size());
  const std::string_view got_parent(parsed->parent_id.data(), parsed->parent_id.size());
  if (got_trace != trace || got_parent != parent || parsed->flags != flags) std::abort();

  // Continue it as the proxy does: our span (here the caller's, reversed)
  // as the parent, the caller's sampled flag, version 00.
  TraceContext t;
  t.trace_id = parsed->trace_id;
  for (std::size_t i = 0; i < t.span_id.size(); ++i)
    t.span_id[i] = parsed->parent_id[t.span_id.size() - 1 - i];
  if (std::string_view(t.span_id.data(), t.span_id.size()).find_first_not_of('0') ==
      std::string_view::npos)
    t.span_id[0] = '1';
  t.sampled = parsed->sampled();
  t.valid = true;
  const auto written = sluice::observe::format_traceparent(t);
  const auto again =
      sluice::observe::parse_traceparent(std::string_view(written.data(), written.size()));
  if (!again || again->trace_id != t.trace_id || again->parent_id != t.span_id ||
      again->sampled() != t.sampled || (again->flags & ~1) != 0)
    std::abort();
  return 0;
}
