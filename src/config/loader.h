// Loads a YAML configuration file into a validated, immutable snapshot.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostic.h"
#include "config/provider_config.h"

namespace sluice::config {

struct Config;

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when there is any error
  std::vector<Diagnostic> diagnostics;   // every error and warning, in file order
  bool ok() const { return config != nullptr; }
};

// Relative paths in the file (admin.token_file) are relative to its directory.
LoadResult load_file(const std::string& path);
// `file_name` names the text in messages; relative paths in it are relative
// to `base_dir` ("" or absent: the working directory).
LoadResult load_string(std::string_view yaml, std::string_view file_name,
                       std::string_view base_dir = {});

// The 'provider' block of a configuration's text, read alone: the rest of
// the file may be incomplete until composed with the provider's keys (its
// listeners may come from etcd). `diagnostics` gets the block's problems;
// text that is not YAML gives none here (the full load reports it).
Provider read_provider(std::string_view yaml, std::string_view file_name, std::string_view base_dir,
                       std::vector<Diagnostic>& diagnostics);

// The directory of a file's path: "conf" for "conf/sluice.yaml", "." for
// "sluice.yaml".
std::string directory_of(const std::string& path);

// "2 listeners, 5 routes, 1 backend, 3 servers"
std::string summary(const Config& config);

}  // namespace sluice::config
