// The middlewares of a configuration, built from its definitions. A reload
// that leaves a definition unchanged (same name, same fingerprint, same
// number of workers) gets the same object back, with its state: token
// buckets keep their tokens, caches their decisions, pools their
// connections. Objects are kept by weak reference: the cache never keeps a
// middleware alive that no configuration uses.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "middleware/middleware.h"

namespace sluice::config {
struct Middleware;
}

namespace sluice::middleware {

struct BuildContext {
  unsigned workers = 1;  // per-worker state is sized by this
};

class MiddlewareCache {
 public:
  // The middleware of each definition, in order. A definition that cannot
  // be built (a file it names cannot be read) gives null and a line in
  // `errors` ("middleware 'auth': ..."). Used by one thread at a time.
  std::vector<std::shared_ptr<Middleware>> build(const std::vector<config::Middleware>& defs,
                                                 const BuildContext& ctx,
                                                 std::vector<std::string>& errors);
  // Drops entries whose middleware no configuration uses any more.
  void forget_unused();
  std::size_t kept() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name;
    std::string fingerprint;
    unsigned workers = 0;
    std::weak_ptr<Middleware> middleware;
  };
  std::vector<Entry> entries_;
};

}  // namespace sluice::middleware
