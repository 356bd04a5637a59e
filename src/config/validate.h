// Checks that need the whole model: unique names, cross references between
// blocks, addresses used twice. Value checks happen while loading.
#pragma once

#include <vector>

#include "config/diagnostic.h"

namespace sluice::config {

struct Config;

// Appends an error or warning for every problem found.
void validate(const Config& config, std::vector<Diagnostic>& out);

}  // namespace sluice::config
