// A message about a configuration file, positioned by line and column.
#pragma once

#include <string>

namespace sluice::config {

enum class Severity { error, warning };

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when the message is about the whole file
  int column = 0;  // 1-based
  Severity severity = Severity::error;
  std::string message;

  // "FILE:LINE:COL: error: MESSAGE"
  std::string to_string() const;
};

}  // namespace sluice::config
