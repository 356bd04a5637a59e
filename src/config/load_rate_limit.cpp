// The 'rate_limit' middleware (docs/config.md, "rate_limit").
#include "config/block_loaders.h"

namespace sluice::config {

void load_rate_limit(Walker& w, const YAML::Node& n, const Block& b, RateLimit& out) {
  (void)out;
  w.map_with_keys(n, b, {});
}

}  // namespace sluice::config
