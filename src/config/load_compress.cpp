// The 'compress' middleware (docs/config.md, "compress").
#include "config/block_loaders.h"

namespace sluice::config {

void load_compress(Walker& w, const YAML::Node& n, const Block& b, Compress& out) {
  (void)out;
  w.map_with_keys(n, b, {});
}

}  // namespace sluice::config
