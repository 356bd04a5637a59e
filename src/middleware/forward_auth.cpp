// The 'forward_auth' middleware (docs/config.md, "forward_auth").
#include "config/model.h"
#include "middleware/kinds.h"

namespace sluice::middleware {

std::shared_ptr<Middleware> make_forward_auth(const config::Middleware& def,
                                              const BuildContext& ctx, std::string& error) {
  (void)def;
  (void)ctx;
  error = "the forward_auth kind is not built yet";
  return nullptr;
}

}  // namespace sluice::middleware
