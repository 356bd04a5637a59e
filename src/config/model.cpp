#include "config/model.h"

namespace sluice::config {

const Backend* Config::find_backend(std::string_view backend_name) const {
  for (const auto& b : backends) {
    if (b.name == backend_name) return &b;
  }
  return nullptr;
}

const Listener* Config::find_listener(std::string_view listener_name) const {
  for (const auto& l : listeners) {
    if (l.name == listener_name) return &l;
  }
  return nullptr;
}

const Middleware* Config::find_middleware(std::string_view middleware_name) const {
  for (const auto& m : middlewares) {
    if (m.name == middleware_name) return &m;
  }
  return nullptr;
}

}  // namespace sluice::config
