// The 'metrics' block (docs/config.md, "metrics").
#include "config/block_loaders.h"

namespace sluice::config {

void load_metrics(Walker& w, const yaml::Node& n, Metrics& metrics) {
  const Block mb{"", "metrics"};
  if (w.map_with_keys(n, mb, {"max_series"})) {
    // The workers' tables are sized for at most a million slots per kind.
    w.int_field(n, "max_series", mb, 0, 1'000'000, metrics.max_series);
  }
}

}  // namespace sluice::config
