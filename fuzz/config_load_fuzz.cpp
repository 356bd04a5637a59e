// Any bytes given as a configuration file must produce diagnostics or a
// config, never a crash, a hang or an escaping exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/loader.h"
#include "config/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = sluice::config::load_string(text, "fuzz.yaml");
  for (const auto& d : result.diagnostics) {
    // Positions are 1-based, or 0 only for messages about the whole file;
    // every message renders as "FILE:LINE:COL: ...".
    if (d.line < 0 || d.column < 0 || d.message.empty()) std::abort();
    if (d.to_string().compare(0, 10, "fuzz.yaml:") != 0) std::abort();
  }
  if (result.ok()) {
    if (sluice::config::summary(*result.config).empty()) std::abort();
  } else if (result.diagnostics.empty()) {
    std::abort();  // a rejected file must say why
  }
  return 0;
}
