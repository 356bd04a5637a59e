// The 'access' middleware (docs/config.md, "access").
#include "config/model.h"
#include "middleware/kinds.h"

namespace sluice::middleware {

std::shared_ptr<Middleware> make_access(const config::Middleware& def, const BuildContext& ctx,
                                        std::string& error) {
  (void)def;
  (void)ctx;
  error = "the access kind is not built yet";
  return nullptr;
}

}  // namespace sluice::middleware
