// How a configuration is laid out as etcd keys under a prefix, both ways
// (docs/fleet.md has the layout for users):
//   PREFIX/generation          a counter writers bump in every transaction
//   PREFIX/listeners/NAME      one listener, as an item of `listeners:`
//   PREFIX/routes/NAME         one route, as an item of `routes:` (NAME: its
//                              `name`, else route-NNNN by position)
//   PREFIX/backends/NAME       one backend, as the value under `backends: NAME`
//   PREFIX/middlewares/NAME    one middleware, likewise
//   PREFIX/certificates/NAME   one PEM: certificate chain and key
//   PREFIX/settings/SECTION    any other top-level section (log, admin, ...)
// Values are YAML in the configuration's own schema. Pure text work: no I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::fleet {

// The origin name a composed document is loaded under; locate() turns
// positions in it back into keys and file positions.
inline constexpr std::string_view kComposedOrigin = "<etcd>";

struct SplitConfig {
  std::vector<std::pair<std::string, std::string>> keys;  // whole key -> value
  std::vector<std::string> errors;                        // "FILE:LINE:COL: error: ..."
};
// The keys a configuration file's text becomes (`generation` not among them).
SplitConfig split_config(std::string_view yaml_text, std::string_view origin,
                         std::string_view prefix);

struct ComposedConfig {
  std::string text;                 // one YAML document the loader reads
  std::vector<std::string> errors;  // keys that cannot be composed, named
  // Rewrites "<etcd>:LINE:COL: ..." messages to "KEY:LINE:COL: ..." (a
  // value's own lines) or "FILE:LINE:COL: ..." (the file's part); others unchanged.
  std::string locate(std::string_view message) const;

  struct Piece {
    std::string name;            // key or file
    std::size_t first_line = 0;  // composed line where it starts (1-based)
    std::size_t lines = 0;
    std::size_t indent = 0;  // columns composed added to its lines
    // A line compose wrote for the key (a section's or a name's line), not
    // one of its value: messages there name the key at 0:0.
    bool written = false;
  };
  std::vector<Piece> pieces;
};
// One document from the keys under `prefix` (whole keys -> values) and the
// local file's text (may be empty). A top-level section comes from the
// file or from etcd, not both: both is an error naming the key.
// Certificates are not composed here: see the provider.
ComposedConfig compose_config(const std::map<std::string, std::string>& keys,
                              std::string_view prefix, std::string_view file_text,
                              std::string_view file_origin);

}  // namespace sluice::fleet
