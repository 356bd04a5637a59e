#include "config/walker.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <map>

#include "config/suggest.h"
#include "config/units.h"

namespace sluice::config {

namespace {

std::string join(Keys keys) {
  std::string s;
  for (auto k : keys) {
    if (!s.empty()) s += ", ";
    s += k;
  }
  return s;
}

bool is_token_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

// A scan in place: a block's map holds a handful of keys.
yaml::Node field(const yaml::Node& map, std::string_view key) {
  if (map.IsMap()) {
    for (const auto& kv : map) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
    }
  }
  return yaml::Node();
}

std::string describe(const yaml::Node& n) {
  switch (n.Type()) {
    case yaml::NodeType::Map:
      return "a map";
    case yaml::NodeType::Sequence:
      return "a list";
    case yaml::NodeType::Scalar:
      return quote(n.Scalar());
    default:
      return "nothing";
  }
}

SourceLocation where(const yaml::Node& n) {
  if (!n.IsDefined()) return {};
  const yaml::Mark m = n.Mark();
  return m.is_null() ? SourceLocation{} : SourceLocation{m.line + 1, m.column + 1};
}

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_token_char(static_cast<unsigned char>(c));
  });
}

bool valid_field_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// ------------------------------------------------------------------- Block

std::string Block::label() const {
  if (owner.empty()) return path.empty() ? "configuration" : path;
  return path.empty() ? owner : owner + ": " + path;
}

std::string Block::at(std::string_view key) const {
  std::string p = path.empty() ? std::string(key) : path + "." + std::string(key);
  return owner.empty() ? p : owner + ": " + p;
}

Block Block::child(std::string_view key) const {
  return Block{owner, path.empty() ? std::string(key) : path + "." + std::string(key)};
}

std::string owner_name(const yaml::Node& n, const std::string& kind, std::size_t index) {
  if (n.IsMap()) {
    const yaml::Node name = field(n, "name");
    if (name.IsDefined() && name.IsScalar() && !name.Scalar().empty()) {
      return kind + " " + quote(name.Scalar());
    }
  }
  return kind + " " + std::to_string(index + 1);
}

// -------------------------------------------------------------------- keys

bool Walker::map_with_keys(const yaml::Node& node, const Block& b, Keys allowed) {
  if (!node.IsMap()) {
    error(node, b.label() + ": expected a map of settings, got " + describe(node));
    return false;
  }
  std::map<std::string, int> seen;  // key -> line
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      error(kv.first, b.label() + ": expected a key name, got " + describe(kv.first));
      continue;
    }
    const std::string& key = kv.first.Scalar();
    const int line = where(kv.first).line;
    if (auto [it, fresh] = seen.emplace(key, line); !fresh) {
      error(kv.first, b.label() + ": key '" + key + "' appears twice (first on line " +
                          std::to_string(it->second) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string msg = b.label() + ": unknown key " + quote(key);
      const std::string hint = suggest(key, allowed);
      if (!hint.empty()) suggested_.emplace_back(node, hint);
      msg += hint.empty() ? " (expected one of: " + join(allowed) + ")"
                          : " (did you mean '" + hint + "'?)";
      error(kv.first, msg);
    }
  }
  return true;
}

bool Walker::suggested(const yaml::Node& map, std::string_view key) const {
  return std::any_of(suggested_.begin(), suggested_.end(),
                     [&](const auto& s) { return s.first.is(map) && s.second == key; });
}

void Walker::missing(const yaml::Node& map, const Block& b, std::string_view key,
                     std::string_view hint) {
  if (suggested(map, key)) return;
  error(map, b.label() + ": missing required key '" + std::string(key) + "'" +
                 (hint.empty() ? "" : " (" + std::string(hint) + ")"));
}

// ----------------------------------------------------------------- strings

bool Walker::scalar(const yaml::Node& n, const std::string& what, std::string& out) {
  if (!n.IsScalar()) {
    error(n, what + ": expected a single value, got " + describe(n));
    return false;
  }
  out = n.Scalar();
  return true;
}

bool Walker::string_value(const yaml::Node& n, const std::string& what, std::string& out) {
  std::string v;
  if (!scalar(n, what, v)) return false;
  if (v.empty()) {
    error(n, what + ": must not be empty");
    return false;
  }
  out = std::move(v);
  return true;
}

bool Walker::string_field(const yaml::Node& map, std::string_view key, const Block& b,
                          std::string& out, bool required) {
  const yaml::Node n = field(map, key);
  if (!n.IsDefined()) {
    if (required) missing(map, b, key);
    return false;
  }
  return string_value(n, b.at(key), out);
}

bool Walker::opt_string(const yaml::Node& map, std::string_view key, const Block& b,
                        std::optional<std::string>& out) {
  std::string v;
  if (!string_field(map, key, b, v)) return false;
  out = std::move(v);
  return true;
}

bool Walker::name_field(const yaml::Node& map, const Block& b, std::string& out, bool required) {
  if (!string_field(map, "name", b, out, required)) return false;
  if (!valid_name(out)) {
    error(field(map, "name"), b.at("name") +
                                  ": names are 1 to 128 characters without spaces or control "
                                  "characters");
  }
  return true;
}

void Walker::path_field(const yaml::Node& map, std::string_view key, const Block& b,
                        std::optional<std::string>& out) {
  if (!opt_string(map, key, b, out)) return;
  assert(!out->empty());  // string_value refuses an empty one
  if (out->front() != '/') {
    error(field(map, key), b.at(key) + ": must start with '/', got " + quote(*out));
  }
}

// ---------------------------------------------------------- other scalars

bool Walker::bool_value(const yaml::Node& n, const std::string& what, bool& out) {
  std::string v;
  if (!scalar(n, what, v)) return false;
  // YAML 1.1 spellings too: yaml-cpp accepted them, and users write them.
  static constexpr std::array<std::string_view, 8> yes = {"true", "True", "TRUE", "yes",
                                                          "Yes",  "YES",  "on",   "On"};
  static constexpr std::array<std::string_view, 8> no = {"false", "False", "FALSE", "no",
                                                         "No",    "NO",    "off",   "Off"};
  if (std::find(yes.begin(), yes.end(), v) != yes.end()) {
    out = true;
  } else if (std::find(no.begin(), no.end(), v) != no.end()) {
    out = false;
  } else {
    error(n, what + ": expected true or false, got " + quote(v));
    return false;
  }
  return true;
}

void Walker::bool_field(const yaml::Node& map, std::string_view key, const Block& b, bool& out) {
  const yaml::Node n = field(map, key);
  if (n.IsDefined()) bool_value(n, b.at(key), out);
}

bool Walker::whole_number(const yaml::Node& n, const std::string& what, long long lo, long long hi,
                          long long& out) {
  std::string v;
  if (!scalar(n, what, v)) return false;
  long long x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || x < lo || x > hi) {
    error(n, what + ": expected a whole number from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", got " + quote(v));
    return false;
  }
  out = x;
  return true;
}

bool Walker::duration_value(const yaml::Node& n, const std::string& what, bool allow_zero,
                            Duration& out) {
  std::string v;
  if (!scalar(n, what, v)) return false;
  const auto d = parse_duration(v);
  if (!d) {
    error(n, what + ": expected a duration such as 250ms, 3s or 5m, got " + quote(v));
    return false;
  }
  if (!allow_zero && d->count() == 0) {
    error(n, what + ": must be longer than 0");
    return false;
  }
  out = *d;
  return true;
}

void Walker::duration_field(const yaml::Node& map, std::string_view key, const Block& b,
                            Duration& out, bool allow_zero) {
  const yaml::Node n = field(map, key);
  if (n.IsDefined()) duration_value(n, b.at(key), allow_zero, out);
}

bool Walker::size_value(const yaml::Node& n, const std::string& what, std::uint64_t& out) {
  std::string v;
  if (!scalar(n, what, v)) return false;
  const auto s = parse_size(v);
  if (!s) {
    error(n, what + ": expected a size such as 512, 16KiB or 1MiB, got " + quote(v));
    return false;
  }
  out = *s;
  return true;
}

bool Walker::size_field(const yaml::Node& map, std::string_view key, const Block& b,
                        std::uint64_t& out) {
  const yaml::Node n = field(map, key);
  return n.IsDefined() && size_value(n, b.at(key), out);
}

// "expected a, b or c, got 'd' (did you mean 'c'?)"
void Walker::unknown_choice(const yaml::Node& n, const std::string& what, const std::string& value,
                            const std::vector<std::string>& spellings) {
  std::string list;
  for (std::size_t i = 0; i < spellings.size(); ++i)
    list += (i == 0 ? "" : i + 1 == spellings.size() ? " or " : ", ") + spellings[i];
  const std::string hint = suggest(value, spellings);
  error(n, what + ": expected " + list + ", got " + quote(value) +
               (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

// ------------------------------------------------------------ collections

bool Walker::string_list(const yaml::Node& map, std::string_view key, const Block& b,
                         std::vector<std::string>& out, std::vector<SourceLocation>* locations,
                         std::vector<yaml::Node>* nodes) {
  const yaml::Node n = field(map, key);
  if (!n.IsDefined()) return false;
  if (!n.IsSequence()) {
    error(n, b.at(key) + ": expected a list, got " + describe(n));
    return false;
  }
  for (const auto& item : n) {
    std::string v;
    if (!string_value(item, b.at(key), v)) continue;
    out.push_back(std::move(v));
    if (locations) locations->push_back(where(item));
    if (nodes) nodes->push_back(item);
  }
  return true;
}

void Walker::field_map(const yaml::Node& n, const std::string& what,
                       std::vector<std::pair<std::string, std::string>>& out) {
  if (!n.IsMap()) {
    error(n, what + ": expected a map of field name to value, got " + describe(n));
    return;
  }
  for (const auto& kv : n) {
    std::string name;
    std::string value;
    if (!scalar(kv.first, what, name)) continue;
    if (!is_token(name)) {
      error(kv.first, what + ": " + quote(name) + " is not a valid header field name");
      continue;
    }
    if (!scalar(kv.second, what + "." + name, value)) continue;
    if (!valid_field_value(value)) {
      error(kv.second, what + "." + name + ": a header value cannot contain a line break");
      continue;
    }
    out.emplace_back(std::move(name), std::move(value));
  }
}

void Walker::address_check(const yaml::Node& n, const std::string& what, std::string_view text,
                           AddressUse use) {
  HostPort hp;
  std::string why;
  if (!parse_address(text, use, hp, why)) {
    error(n, what + ": expected " +
                 (use == AddressUse::listen ? "host:port, [v6]:port or *:port"
                                            : "host:port or [v6]:port") +
                 ", got " + quote(text) + ": " + why);
  }
}

}  // namespace sluice::config
