// One factory per middleware kind, each defined in its kind's file. A
// factory returns null and sets `error` when the definition cannot be
// built (the loader has checked its syntax already).
#pragma once

#include <memory>
#include <string>

#include "middleware/middleware.h"
#include "middleware/middleware_set.h"

namespace sluice::config {
struct Middleware;
}

namespace sluice::middleware {

std::shared_ptr<Middleware> make_headers(const config::Middleware& def, const BuildContext& ctx,
                                         std::string& error);
std::shared_ptr<Middleware> make_forward_auth(const config::Middleware& def,
                                              const BuildContext& ctx, std::string& error);
std::shared_ptr<Middleware> make_access(const config::Middleware& def, const BuildContext& ctx,
                                        std::string& error);
std::shared_ptr<Middleware> make_rate_limit(const config::Middleware& def, const BuildContext& ctx,
                                            std::string& error);
std::shared_ptr<Middleware> make_compress(const config::Middleware& def, const BuildContext& ctx,
                                          std::string& error);

}  // namespace sluice::middleware
