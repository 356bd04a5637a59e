#include "middleware/middleware_set.h"

#include <algorithm>

#include "config/model.h"
#include "middleware/kinds.h"

namespace sluice::middleware {
namespace {

std::shared_ptr<Middleware> make(const config::Middleware& def, const BuildContext& ctx,
                                 std::string& error) {
  switch (def.kind) {
    case config::MiddlewareKind::headers:
      return make_headers(def, ctx, error);
    case config::MiddlewareKind::forward_auth:
      return make_forward_auth(def, ctx, error);
    case config::MiddlewareKind::access:
      return make_access(def, ctx, error);
    case config::MiddlewareKind::rate_limit:
      return make_rate_limit(def, ctx, error);
    case config::MiddlewareKind::compress:
      return make_compress(def, ctx, error);
  }
  return nullptr;
}

}  // namespace

std::vector<std::shared_ptr<Middleware>> MiddlewareCache::build(
    const std::vector<config::Middleware>& defs, const BuildContext& ctx,
    std::vector<std::string>& errors) {
  std::vector<std::shared_ptr<Middleware>> out;
  out.reserve(defs.size());
  for (const config::Middleware& def : defs) {
    const auto same = [&](const Entry& e) {
      return e.name == def.name && e.fingerprint == def.fingerprint && e.workers == ctx.workers;
    };
    const auto it = std::find_if(entries_.begin(), entries_.end(), same);
    if (it != entries_.end()) {
      if (std::shared_ptr<Middleware> kept = it->middleware.lock()) {
        out.push_back(std::move(kept));
        continue;
      }
      entries_.erase(it);
    }
    std::string error;
    std::shared_ptr<Middleware> made = make(def, ctx, error);
    if (!made) {
      errors.push_back("middleware '" + def.name +
                       "': " + (error.empty() ? std::string("cannot be built") : error));
    } else {
      entries_.push_back(Entry{def.name, def.fingerprint, ctx.workers, made});
    }
    out.push_back(std::move(made));
  }
  return out;
}

void MiddlewareCache::forget_unused() {
  std::erase_if(entries_, [](const Entry& e) { return e.middleware.expired(); });
}

}  // namespace sluice::middleware
