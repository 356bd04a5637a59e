// The 'forward_auth' middleware's settings (docs/config.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

struct ForwardAuth {};

}  // namespace sluice::config
