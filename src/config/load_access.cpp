// The 'access' middleware (docs/config.md, "access").
#include "config/block_loaders.h"

namespace sluice::config {

void load_access(Walker& w, const YAML::Node& n, const Block& b, std::string_view base_dir,
                 Access& out, std::string& fingerprint) {
  (void)base_dir;
  (void)out;
  (void)fingerprint;
  w.map_with_keys(n, b, {});
}

}  // namespace sluice::config
