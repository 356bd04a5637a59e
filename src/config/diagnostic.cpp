#include "config/diagnostic.h"

namespace sluice::config {

std::string Diagnostic::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
         (severity == Severity::error ? "error: " : "warning: ") + message;
}

}  // namespace sluice::config
