// The top-level 'metrics' block (docs/config.md, "metrics"): how /metrics
// on the admin listener bounds its series.
#pragma once

#include <cstddef>

namespace sluice::config {

struct Metrics {
  // Listeners, routes, backends, servers and request keys (a listener,
  // route and backend seen together) that get series; past it, a name
  // gets none and a warning says so at each load.
  std::size_t max_series = 20'000;
};

}  // namespace sluice::config
