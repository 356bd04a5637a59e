// The 'forward_auth' middleware (docs/config.md, "forward_auth").
#include "config/block_loaders.h"

namespace sluice::config {

void load_forward_auth(Walker& w, const YAML::Node& n, const Block& b, std::string_view base_dir,
                       ForwardAuth& out, std::string& fingerprint) {
  (void)base_dir;
  (void)out;
  (void)fingerprint;
  w.map_with_keys(n, b, {});
}

}  // namespace sluice::config
