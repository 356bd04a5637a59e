// The configuration loader must turn any bytes into diagnostics or a config,
// never a crash, and every error must carry a position within the file.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/loader.h"
#include "config/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto r = sluice::config::load_string(yaml, "fuzz.yaml");
  if (r.ok() == false && r.diagnostics.empty()) std::abort();
  for (const auto& d : r.diagnostics) {
    if (d.line < 0 || d.column < 0 || d.message.empty()) std::abort();
  }
  if (r.ok()) (void)sluice::config::summary(*r.config);
  return 0;
}
