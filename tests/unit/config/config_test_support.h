// What the configuration tests share: a load's diagnostics as text, its
// errors, and where a piece of YAML text sits (as a diagnostic names it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::config::testing {

inline std::string dump(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.diagnostics)
    s += d.to_string() + "\n";
  return s;
}

inline std::vector<const Diagnostic*> errors(const LoadResult& r) {
  std::vector<const Diagnostic*> out;
  for (const auto& d : r.diagnostics)
    if (d.severity == Severity::error) out.push_back(&d);
  return out;
}

// Where `needle` first starts in `text`, 1-based, as a diagnostic gives it.
inline SourceLocation position_of(std::string_view text, std::string_view needle) {
  const auto at = text.find(needle);
  if (at == std::string_view::npos) return {};
  SourceLocation p{1, 1};
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

// `lines`, each indented by `spaces` more.
inline std::string indented(std::string_view lines, std::size_t spaces) {
  std::string out;
  std::size_t start = 0;
  while (start < lines.size()) {
    const auto end = std::min(lines.find('\n', start), lines.size());
    out += std::string(spaces, ' ') + std::string(lines.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace sluice::config::testing
