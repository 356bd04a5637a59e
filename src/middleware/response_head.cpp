#include <algorithm>

#include "http/token.h"
#include "middleware/middleware.h"

namespace sluice::middleware {

std::string_view ResponseHead::get(std::string_view name) const {
  for (const auto& f : fields) {
    if (http::iequals(f.name, name)) return f.value;
  }
  return {};
}

bool ResponseHead::has(std::string_view name) const {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const http::HeaderField& f) { return http::iequals(f.name, name); });
}

void ResponseHead::remove(std::string_view name) {
  std::erase_if(fields, [&](const http::HeaderField& f) { return http::iequals(f.name, name); });
}

void ResponseHead::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void ResponseHead::add(std::string_view name, std::string_view value) {
  fields.push_back({make(name), make(value)});
}

std::string_view ResponseHead::make(std::string_view text) {
  storage_.push_back(std::make_unique<std::string>(text));
  return *storage_.back();
}

}  // namespace sluice::middleware
