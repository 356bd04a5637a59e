// The 'rate_limit' middleware (docs/config.md, "rate_limit").
#include "config/model.h"
#include "middleware/kinds.h"

namespace sluice::middleware {

std::shared_ptr<Middleware> make_rate_limit(const config::Middleware& def, const BuildContext& ctx,
                                            std::string& error) {
  (void)def;
  (void)ctx;
  error = "the rate_limit kind is not built yet";
  return nullptr;
}

}  // namespace sluice::middleware
