// Checks that need the whole model: names, cross references, addresses.
#pragma once

#include <vector>

#include "config/diagnostic.h"

namespace sluice::config {

struct Config;

// Appends an error or warning for every problem found.
void validate(const Config& config, std::vector<Diagnostic>& out);

// "host:port" with a port in [min_port, 65535]; a host is required when
// `need_host` (servers), "*" or empty means any address (listeners).
bool valid_address(const std::string& text, int min_port, bool need_host);
// "10.0.0.0/8", "::1/128", or a single address.
bool valid_cidr(const std::string& text);

}  // namespace sluice::config
