// Loads a YAML configuration file into a validated, immutable snapshot.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.h"

namespace sluice::config {

struct Config;

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when there is any error
  std::vector<Diagnostic> diagnostics;   // every error and warning, in file order
  bool ok() const { return config != nullptr; }
};

LoadResult load_file(const std::string& path);
LoadResult load_string(std::string_view yaml, std::string_view file_name);

// "2 listeners, 5 routes, 1 backend, 3 servers"
std::string summary(const Config& config);

}  // namespace sluice::config
