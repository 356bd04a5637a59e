// The machinery of the YAML walk, shared by the block loaders: values read
// with a message naming what was expected, keys checked against the allowed
// ones (with a suggestion for a misspelt one), and the tree's marks turned into
// file:line:column diagnostics. Internal to config/: loader.h is the API.
#pragma once

#include "config/yaml_tree.h"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/address.h"
#include "config/diagnostic.h"
#include "config/model.h"

namespace sluice::config {

// A map's value for `key`, or an undefined node.
yaml::Node field(const yaml::Node& map, std::string_view key);
// A node as a message shows it: "a map", "a list", the quoted scalar or "nothing".
std::string describe(const yaml::Node& n);
// Where a node was written; 0/0 for a node nobody wrote (an empty map made up).
SourceLocation where(const yaml::Node& n);

using Keys = std::initializer_list<std::string_view>;

// An enum value and how it is spelt in the file.
template <typename E>
struct Choice {
  std::string_view text;
  E value;
};

// Names become metric labels, log fields and message text: keep them to
// visible characters.
bool valid_name(std::string_view s);
// An RFC 9110 §5.6.2 token, as a header field name or a method is.
bool is_token(std::string_view s);
// A field value may not smuggle a line break or NUL into a response head.
bool valid_field_value(std::string_view s);

// Where a value sits, for messages: "listener 'web': timeouts.header".
struct Block {
  std::string owner;  // "listener 'web'", or "" at the top level
  std::string path;   // "timeouts", or "" for the owner's own block

  std::string label() const;
  std::string at(std::string_view key) const;
  Block child(std::string_view key) const;
};

// Blocks with a 'name' are called by it in messages, including those about
// the block's own keys, so the name is read before anything else:
// "listener 'web'", or "listener 2" (1-based) when it has none.
std::string owner_name(const yaml::Node& n, const std::string& kind, std::size_t index);

// Reads values and reports what is wrong with them. Every reader reports its
// own error and returns false (or leaves `out` alone), so that a block goes
// on and one run reports every error in the file.
class Walker {
 public:
  Walker(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  void error(const yaml::Node& at, std::string message) {
    report(where(at), Severity::error, std::move(message));
  }
  void warning(const yaml::Node& at, std::string message) {
    report(where(at), Severity::warning, std::move(message));
  }
  void report(SourceLocation at, Severity s, std::string message) {
    out_.push_back(Diagnostic{file_, at.line, at.column, s, std::move(message)});
  }

  // A block must be a map; its keys must be among `allowed`, each once.
  bool map_with_keys(const yaml::Node& node, const Block& b, Keys allowed);
  // True when an unknown key in `map` was reported as a likely misspelling
  // of `key`: the user wrote it, so "missing" would be noise.
  bool suggested(const yaml::Node& map, std::string_view key) const;
  void missing(const yaml::Node& map, const Block& b, std::string_view key,
               std::string_view hint = {});

  bool scalar(const yaml::Node& n, const std::string& what, std::string& out);
  bool string_value(const yaml::Node& n, const std::string& what, std::string& out);
  // Reads map[key] if present; `required` reports its absence at the map.
  bool string_field(const yaml::Node& map, std::string_view key, const Block& b, std::string& out,
                    bool required = false);
  bool opt_string(const yaml::Node& map, std::string_view key, const Block& b,
                  std::optional<std::string>& out);
  // The block's 'name', which must be a valid_name(); true when one was read,
  // valid or not.
  bool name_field(const yaml::Node& map, const Block& b, std::string& out, bool required);
  // A request path: it must start with '/'.
  void path_field(const yaml::Node& map, std::string_view key, const Block& b,
                  std::optional<std::string>& out);

  bool bool_value(const yaml::Node& n, const std::string& what, bool& out);
  void bool_field(const yaml::Node& map, std::string_view key, const Block& b, bool& out);

  template <typename Int>
  bool int_value(const yaml::Node& n, const std::string& what, long long lo, long long hi,
                 Int& out) {
    long long x = 0;
    if (!whole_number(n, what, lo, hi, x)) return false;
    out = static_cast<Int>(x);
    return true;
  }
  template <typename Int>
  void int_field(const yaml::Node& map, std::string_view key, const Block& b, long long lo,
                 long long hi, Int& out) {
    const yaml::Node n = field(map, key);
    if (n.IsDefined()) int_value(n, b.at(key), lo, hi, out);
  }
  template <typename Int>
  void opt_int(const yaml::Node& map, std::string_view key, const Block& b, long long lo,
               long long hi, std::optional<Int>& out) {
    const yaml::Node n = field(map, key);
    Int v{};
    if (n.IsDefined() && int_value(n, b.at(key), lo, hi, v)) out = v;
  }

  // Zero is allowed only where it has a meaning ("no grace", "do not queue").
  bool duration_value(const yaml::Node& n, const std::string& what, bool allow_zero, Duration& out);
  void duration_field(const yaml::Node& map, std::string_view key, const Block& b, Duration& out,
                      bool allow_zero = false);
  bool size_value(const yaml::Node& n, const std::string& what, std::uint64_t& out);
  bool size_field(const yaml::Node& map, std::string_view key, const Block& b, std::uint64_t& out);

  // One of `choices`, by its spelling in the file.
  template <typename E, std::size_t N>
  bool choice_field(const yaml::Node& map, std::string_view key, const Block& b,
                    const std::array<Choice<E>, N>& choices, E& out) {
    const yaml::Node n = field(map, key);
    if (!n.IsDefined()) return false;
    std::string v;
    if (!scalar(n, b.at(key), v)) return false;
    std::vector<std::string> spellings;
    for (const auto& c : choices) {
      if (c.text == v) {
        out = c.value;
        return true;
      }
      spellings.emplace_back(c.text);
    }
    unknown_choice(n, b.at(key), v, spellings);
    return false;
  }

  // A list of non-empty strings; `locations` and `nodes` (optional) get one
  // entry for each item appended to `out`, in the same order.
  bool string_list(const yaml::Node& map, std::string_view key, const Block& b,
                   std::vector<std::string>& out, std::vector<SourceLocation>* locations = nullptr,
                   std::vector<yaml::Node>* nodes = nullptr);
  // A map of header field names to values, as for respond.headers.
  void field_map(const yaml::Node& n, const std::string& what,
                 std::vector<std::pair<std::string, std::string>>& out);
  void address_check(const yaml::Node& n, const std::string& what, std::string_view text,
                     AddressUse use);

 private:
  bool whole_number(const yaml::Node& n, const std::string& what, long long lo, long long hi,
                    long long& out);
  void unknown_choice(const yaml::Node& n, const std::string& what, const std::string& value,
                      const std::vector<std::string>& spellings);

  std::string file_;
  std::vector<Diagnostic>& out_;
  std::vector<std::pair<yaml::Node, std::string>> suggested_;  // map, key it probably meant
};

}  // namespace sluice::config
