// The 'compress' middleware (docs/config.md, "compress").
#include "config/model.h"
#include "middleware/kinds.h"

namespace sluice::middleware {

std::shared_ptr<Middleware> make_compress(const config::Middleware& def, const BuildContext& ctx,
                                          std::string& error) {
  (void)def;
  (void)ctx;
  error = "the compress kind is not built yet";
  return nullptr;
}

}  // namespace sluice::middleware
