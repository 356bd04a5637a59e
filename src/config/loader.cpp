// The YAML walk: every block checks its keys (unknown ones are errors with a
// suggestion), converts each value with a message naming what was expected,
// and keeps going so that one run reports every error in the file. Checks
// that need the whole model (names, cross references) are in validate.cpp.
#include "config/loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>

#include "config/address.h"
#include "config/model.h"
#include "config/suggest.h"
#include "config/units.h"
#include "config/validate.h"

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

namespace {

// A map's value for `key`, or an undefined node. yaml-cpp's operator[]
// converts every key it passes into a new std::string to compare it; with
// thousands of routes that was most of the load time, so compare the
// scalars in place.
YAML::Node field(const YAML::Node& map, std::string_view key) {
  if (map.IsMap()) {
    for (const auto& kv : map) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

using Keys = std::initializer_list<std::string_view>;

// An enum value and how it is spelt in the file.
template <typename E>
struct Choice {
  std::string_view text;
  E value;
};

std::string join(Keys keys) {
  std::string s;
  for (auto k : keys) {
    if (!s.empty()) s += ", ";
    s += k;
  }
  return s;
}

// Names become metric labels, log fields and message text: keep them to
// visible characters.
bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return quote(n.Scalar());
    default:
      return "nothing";
  }
}

SourceLocation where(const YAML::Node& n) {
  if (!n.IsDefined()) return {};
  const YAML::Mark m = n.Mark();
  return m.is_null() ? SourceLocation{} : SourceLocation{m.line + 1, m.column + 1};
}

bool is_token_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_token_char(static_cast<unsigned char>(c));
  });
}

// A field value may not smuggle a line break or NUL into a response head.
bool valid_field_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Counts the capture groups of an RE2 pattern without compiling it: every
// unescaped '(' outside a character class that is not "(?" or is a named
// group "(?P<" / "(?<". Good enough to check "$N" references; the router
// compiles the pattern and reports anything this misses.
int count_groups(std::string_view re) {
  int groups = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 < re.size() && re[i + 1] == 'Q') {  // \Q...\E is literal
        const auto end = re.find("\\E", i + 2);
        if (end == std::string_view::npos) break;
        i = end + 1;
      } else {
        ++i;
      }
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < re.size() && re[i + 1] == '^') ++i;
      if (i + 1 < re.size() && re[i + 1] == ']') ++i;  // "[]...]": ']' first is literal
    } else if (c == '(') {
      const std::string_view rest = re.substr(i + 1);
      if (rest.empty() || rest[0] != '?' || rest.substr(0, 3) == "?P<" ||
          (rest.substr(0, 2) == "?<" && rest.substr(0, 3) != "?<=" && rest.substr(0, 3) != "?<!")) {
        ++groups;
      }
    }
  }
  return groups;
}

// Checks "$N", "${N}", "${name}" and "$$" in a replacement. Returns the
// highest N used (0 if none; `$0`, the whole match, also sets `any`) or -1
// with `why` set; names used go to `names`.
int check_template(std::string_view t, std::string& why, bool& any,
                   std::vector<std::string>& names) {
  int highest = 0;
  any = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '$') continue;
    if (i + 1 >= t.size()) {
      why = "'$' at the end; write '$$' for a literal '$'";
      return -1;
    }
    const char next = t[i + 1];
    if (next == '$') {
      ++i;
    } else if (next >= '0' && next <= '9') {
      highest = std::max(highest, next - '0');
      any = true;
      ++i;
    } else if (next == '{') {
      const auto close = t.find('}', i + 2);
      const std::string_view inner =
          close == std::string_view::npos ? std::string_view() : t.substr(i + 2, close - i - 2);
      const bool is_name = !inner.empty() && !std::isdigit(static_cast<unsigned char>(inner[0])) &&
                           std::all_of(inner.begin(), inner.end(), [](char c) {
                             return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                           });
      int n = -1;
      auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
      if (is_name) {
        names.emplace_back(inner);
        any = true;
      } else if (inner.empty() || ec != std::errc{} || end != inner.data() + inner.size() ||
                 n > 15) {
        why =
            "'${' must be followed by a capture number up to 15 or a group name and '}', as in "
            "${1} or ${id}";
        return -1;
      } else {
        highest = std::max(highest, n);
        any = true;
      }
      i = close;
    } else {
      why = "'$' must be followed by a capture number (as in $1 or ${12}), ${name}, or '$'";
      return -1;
    }
  }
  return highest;
}

// Where a value sits, for messages: "listener 'web': timeouts.header".
struct Block {
  std::string owner;  // "listener 'web'", or "" at the top level
  std::string path;   // "timeouts", or "" for the owner's own block

  std::string label() const {
    if (owner.empty()) return path.empty() ? "configuration" : path;
    return path.empty() ? owner : owner + ": " + path;
  }
  std::string at(std::string_view key) const {
    std::string p = path.empty() ? std::string(key) : path + "." + std::string(key);
    return owner.empty() ? p : owner + ": " + p;
  }
  Block child(std::string_view key) const {
    return Block{owner, path.empty() ? std::string(key) : path + "." + std::string(key)};
  }
};

class Walker {
 public:
  Walker(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  void error(const YAML::Node& at, std::string message) {
    report(where(at), Severity::error, std::move(message));
  }
  void warning(const YAML::Node& at, std::string message) {
    report(where(at), Severity::warning, std::move(message));
  }
  void report(SourceLocation at, Severity s, std::string message) {
    out_.push_back(Diagnostic{file_, at.line, at.column, s, std::move(message)});
  }

  // A block must be a map; its keys must be among `allowed`, each once.
  bool map_with_keys(const YAML::Node& node, const Block& b, Keys allowed) {
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

  // True when an unknown key in `map` was reported as a likely misspelling
  // of `key`: the user wrote it, so "missing" would be noise.
  bool suggested(const YAML::Node& map, std::string_view key) const {
    return std::any_of(suggested_.begin(), suggested_.end(),
                       [&](const auto& s) { return s.first.is(map) && s.second == key; });
  }

  void missing(const YAML::Node& map, const Block& b, std::string_view key,
               std::string_view hint = {}) {
    if (suggested(map, key)) return;
    error(map, b.label() + ": missing required key '" + std::string(key) + "'" +
                   (hint.empty() ? "" : " (" + std::string(hint) + ")"));
  }

  bool scalar(const YAML::Node& n, const std::string& what, std::string& out) {
    if (!n.IsScalar()) {
      error(n, what + ": expected a single value, got " + describe(n));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool string_value(const YAML::Node& n, const std::string& what, std::string& out) {
    std::string v;
    if (!scalar(n, what, v)) return false;
    if (v.empty()) {
      error(n, what + ": must not be empty");
      return false;
    }
    out = std::move(v);
    return true;
  }

  // Reads map[key] if present; `required` reports its absence at the map.
  bool string_field(const YAML::Node& map, std::string_view key, const Block& b, std::string& out,
                    bool required = false) {
    const YAML::Node n = field(map, key);
    if (!n.IsDefined()) {
      if (required) missing(map, b, key);
      return false;
    }
    return string_value(n, b.at(key), out);
  }

  bool opt_string(const YAML::Node& map, std::string_view key, const Block& b,
                  std::optional<std::string>& out) {
    std::string v;
    if (!string_field(map, key, b, v)) return false;
    out = std::move(v);
    return true;
  }

  bool bool_value(const YAML::Node& n, const std::string& what, bool& out) {
    std::string v;
    if (!scalar(n, what, v)) return false;
    // YAML 1.1 spellings too: yaml-cpp and most users accept them.
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

  void bool_field(const YAML::Node& map, std::string_view key, const Block& b, bool& out) {
    const YAML::Node n = field(map, key);
    if (n.IsDefined()) bool_value(n, b.at(key), out);
  }

  template <typename Int>
  bool int_value(const YAML::Node& n, const std::string& what, long long lo, long long hi,
                 Int& out) {
    std::string v;
    if (!scalar(n, what, v)) return false;
    long long x = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || x < lo || x > hi) {
      error(n, what + ": expected a whole number from " + std::to_string(lo) + " to " +
                   std::to_string(hi) + ", got " + quote(v));
      return false;
    }
    out = static_cast<Int>(x);
    return true;
  }

  template <typename Int>
  void int_field(const YAML::Node& map, std::string_view key, const Block& b, long long lo,
                 long long hi, Int& out) {
    const YAML::Node n = field(map, key);
    if (n.IsDefined()) int_value(n, b.at(key), lo, hi, out);
  }

  template <typename Int>
  void opt_int(const YAML::Node& map, std::string_view key, const Block& b, long long lo,
               long long hi, std::optional<Int>& out) {
    const YAML::Node n = field(map, key);
    Int v{};
    if (n.IsDefined() && int_value(n, b.at(key), lo, hi, v)) out = v;
  }

  // Zero is allowed only where it has a meaning ("no grace", "do not queue").
  bool duration_value(const YAML::Node& n, const std::string& what, bool allow_zero,
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

  void duration_field(const YAML::Node& map, std::string_view key, const Block& b, Duration& out,
                      bool allow_zero = false) {
    const YAML::Node n = field(map, key);
    if (n.IsDefined()) duration_value(n, b.at(key), allow_zero, out);
  }

  bool size_value(const YAML::Node& n, const std::string& what, std::uint64_t& out) {
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

  bool size_field(const YAML::Node& map, std::string_view key, const Block& b, std::uint64_t& out) {
    const YAML::Node n = field(map, key);
    return n.IsDefined() && size_value(n, b.at(key), out);
  }

  template <typename E, std::size_t N>
  bool choice_field(const YAML::Node& map, std::string_view key, const Block& b,
                    const std::array<Choice<E>, N>& choices, E& out) {
    const YAML::Node n = field(map, key);
    if (!n.IsDefined()) return false;
    std::string v;
    if (!scalar(n, b.at(key), v)) return false;
    std::vector<std::string> names;
    for (const auto& c : choices) {
      if (c.text == v) {
        out = c.value;
        return true;
      }
      names.emplace_back(c.text);
    }
    std::string list;
    for (std::size_t i = 0; i < names.size(); ++i)
      list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    const std::string hint = suggest(v, names);
    error(n, b.at(key) + ": expected " + list + ", got " + quote(v) +
                 (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    return false;
  }

  // A list of non-empty strings; `locations` (optional) gets each item's place.
  bool string_list(const YAML::Node& map, std::string_view key, const Block& b,
                   std::vector<std::string>& out, std::vector<SourceLocation>* locations = nullptr,
                   std::vector<YAML::Node>* nodes = nullptr) {
    const YAML::Node n = field(map, key);
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

  // A map of header field names to values, as for respond.headers.
  void field_map(const YAML::Node& n, const std::string& what,
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

  void address_check(const YAML::Node& n, const std::string& what, std::string_view text,
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

 private:
  std::string file_;
  std::vector<Diagnostic>& out_;
  std::vector<std::pair<YAML::Node, std::string>> suggested_;  // map, key it probably meant
};

// Blocks with a 'name' are called by it in messages, including those about
// the block's own keys, so the name is read before anything else.
std::string owner_name(const YAML::Node& n, const std::string& kind, std::size_t index) {
  if (n.IsMap()) {
    const YAML::Node name = field(n, "name");
    if (name.IsDefined() && name.IsScalar() && !name.Scalar().empty()) {
      return kind + " " + quote(name.Scalar());
    }
  }
  return kind + " " + std::to_string(index + 1);
}

constexpr std::array<Choice<Protocol>, 2> kProtocols{
    {{"http", Protocol::http}, {"tcp", Protocol::tcp}}};
constexpr std::array<Choice<EscapedSlashes>, 2> kEscapedSlashes{
    {{"reject", EscapedSlashes::reject}, {"keep", EscapedSlashes::keep}}};
constexpr std::array<Choice<Balance>, 5> kBalances{{{"round_robin", Balance::round_robin},
                                                    {"least_conn", Balance::least_conn},
                                                    {"random", Balance::random},
                                                    {"p2c", Balance::p2c},
                                                    {"hash", Balance::hash}}};
constexpr std::array<Choice<HashKey>, 4> kHashKeys{{{"source_ip", HashKey::source_ip},
                                                    {"header", HashKey::header},
                                                    {"cookie", HashKey::cookie},
                                                    {"path", HashKey::path}}};
constexpr std::array<Choice<SendProxy>, 3> kSendProxy{
    {{"none", SendProxy::none}, {"v1", SendProxy::v1}, {"v2", SendProxy::v2}}};
constexpr std::array<Choice<PoolReuse>, 3> kReuse{
    {{"never", PoolReuse::never}, {"safe", PoolReuse::safe}, {"always", PoolReuse::always}}};
constexpr std::array<Choice<HealthCheckType>, 2> kCheckTypes{
    {{"http", HealthCheckType::http}, {"tcp", HealthCheckType::tcp}}};
constexpr std::array<Choice<LogLevel>, 5> kLogLevels{{{"trace", LogLevel::trace},
                                                      {"debug", LogLevel::debug},
                                                      {"info", LogLevel::info},
                                                      {"warn", LogLevel::warn},
                                                      {"error", LogLevel::error}}};

// ---------------------------------------------------------------- listeners

void load_listener(Walker& w, const YAML::Node& n, std::size_t index, Listener& l) {
  l.where = where(n);
  Block b{owner_name(n, "listener", index), ""};
  if (!w.map_with_keys(n, b,
                       {"name", "listen", "protocol", "backend", "timeouts", "max_header_size",
                        "max_request_line", "max_header_count", "max_body_size", "max_connections",
                        "keep_alive_header", "proxy_protocol", "tls", "min_body_rate",
                        "keep_underscore_fields", "escaped_slashes"})) {
    return;
  }
  if (w.string_field(n, "name", b, l.name, true) && !valid_name(l.name)) {
    w.error(field(n, "name"), b.at("name") +
                                  ": names are 1 to 128 characters without spaces or control "
                                  "characters");
  }
  l.name_where = where(field(n, "name"));
  if (w.string_field(n, "listen", b, l.listen, true)) {
    w.address_check(field(n, "listen"), b.at("listen"), l.listen, AddressUse::listen);
  }
  l.listen_where = where(field(n, "listen"));
  w.choice_field(n, "protocol", b, kProtocols, l.protocol);
  w.opt_string(n, "backend", b, l.backend);
  l.backend_where = where(field(n, "backend"));
  const bool tcp = l.protocol == Protocol::tcp;
  if (tcp && !field(n, "backend").IsDefined()) {
    w.missing(n, b, "backend", "a tcp listener forwards to one backend");
  } else if (!tcp && field(n, "backend").IsDefined()) {
    w.error(field(n, "backend"), b.at("backend") +
                                     ": only tcp listeners name a backend; http listeners reach "
                                     "backends through routes");
  }
  if (const YAML::Node t = field(n, "timeouts"); t.IsDefined()) {
    const Block tb = b.child("timeouts");
    if (w.map_with_keys(t, tb, {"header", "idle", "request"})) {
      w.duration_field(t, "header", tb, l.timeouts.header);
      w.duration_field(t, "idle", tb, l.timeouts.idle);
      w.duration_field(t, "request", tb, l.timeouts.request, true);
      if (tcp && field(t, "header").IsDefined()) {
        w.warning(field(t, "header"), tb.at("header") + ": ignored on a tcp listener");
      }
    }
  }
  if (w.size_field(n, "max_header_size", b, l.max_header_size) &&
      (l.max_header_size < 1024 || l.max_header_size > 64 * 1024)) {
    w.error(field(n, "max_header_size"), b.at("max_header_size") +
                                             ": must be from 1KiB to 64KiB, got " +
                                             quote(field(n, "max_header_size").Scalar()));
  }
  if (w.size_field(n, "max_request_line", b, l.max_request_line) &&
      (l.max_request_line < 64 || l.max_request_line > l.max_header_size)) {
    w.error(field(n, "max_request_line"),
            b.at("max_request_line") + ": must be at least 64 bytes and at most max_header_size (" +
                std::to_string(l.max_header_size) + " bytes)");
  }
  w.int_field(n, "max_header_count", b, 1, 1000, l.max_header_count);
  std::uint64_t body = 0;
  if (w.size_field(n, "max_body_size", b, body)) l.max_body_size = body;
  w.opt_int(n, "max_connections", b, 1, 10'000'000, l.max_connections);
  w.bool_field(n, "keep_alive_header", b, l.keep_alive_header);
  w.bool_field(n, "proxy_protocol", b, l.proxy_protocol);
  w.bool_field(n, "keep_underscore_fields", b, l.keep_underscore_fields);
  w.choice_field(n, "escaped_slashes", b, kEscapedSlashes, l.escaped_slashes);
  if (const YAML::Node r = field(n, "min_body_rate"); r.IsDefined()) {
    const Block rb = b.child("min_body_rate");
    if (w.map_with_keys(r, rb, {"bytes", "per"})) {
      w.size_field(r, "bytes", rb, l.min_body_rate.bytes);
      w.duration_field(r, "per", rb, l.min_body_rate.per);
    }
  }
  if (tcp) {
    for (const char* key :
         {"max_header_size", "max_request_line", "max_header_count", "max_body_size",
          "keep_alive_header", "min_body_rate", "keep_underscore_fields", "escaped_slashes"}) {
      if (field(n, key).IsDefined())
        w.warning(field(n, key), b.at(key) + ": ignored on a tcp listener");
    }
  }
  if (const YAML::Node tls = field(n, "tls"); tls.IsDefined()) {
    const Block tb = b.child("tls");
    if (w.map_with_keys(tls, tb, {"certificates"})) {
      Tls t;
      const YAML::Node certs = field(tls, "certificates");
      if (!certs.IsDefined()) {
        w.missing(tls, tb, "certificates");
      } else if (!certs.IsSequence() || certs.size() == 0) {
        w.error(certs,
                tb.at("certificates") + ": expected a list of {cert, key}, got " + describe(certs));
      } else {
        const Block cb = tb.child("certificates");
        for (const auto& c : certs) {
          if (!w.map_with_keys(c, cb, {"cert", "key"})) continue;
          TlsCertificate tc;
          w.string_field(c, "cert", cb, tc.cert, true);
          w.string_field(c, "key", cb, tc.key, true);
          t.certificates.push_back(std::move(tc));
        }
      }
      l.tls = std::move(t);
    }
  }
}

// ------------------------------------------------------------------- routes

void load_path(Walker& w, const YAML::Node& m, std::string_view key, const Block& mb,
               std::optional<std::string>& out) {
  if (w.opt_string(m, key, mb, out) && out->front() != '/') {
    w.error(m[std::string(key)], mb.at(key) + ": must start with '/', got " + quote(*out));
  }
}

void load_match(Walker& w, const YAML::Node& n, const Block& rb, RouteMatch& m) {
  const Block mb = rb.child("match");
  if (!w.map_with_keys(
          n, mb, {"host", "path", "path_exact", "path_regex", "methods", "headers", "query"})) {
    return;
  }
  if (w.opt_string(n, "host", mb, m.host)) {
    const std::string_view h = *m.host;
    const bool wildcard = h.size() > 2 && h.substr(0, 2) == "*.";
    if (!valid_host_name(wildcard ? h.substr(2) : h)) {
      w.error(field(n, "host"),
              mb.at("host") +
                  ": expected a host name such as api.example.com or *.example.com "
                  "(without a port), got " +
                  quote(h));
    }
  }
  load_path(w, n, "path", mb, m.path);
  load_path(w, n, "path_exact", mb, m.path_exact);
  w.opt_string(n, "path_regex", mb, m.path_regex);
  const int paths = (m.path ? 1 : 0) + (m.path_exact ? 1 : 0) + (m.path_regex ? 1 : 0);
  if (paths > 1) {
    w.error(n, mb.label() + ": use only one of path, path_exact and path_regex");
  }
  std::vector<YAML::Node> method_nodes;
  w.string_list(n, "methods", mb, m.methods, nullptr, &method_nodes);
  for (std::size_t i = 0; i < m.methods.size(); ++i) {
    const std::string& method = m.methods[i];
    if (!is_token(method)) {
      w.error(method_nodes[i], mb.at("methods") + ": " + quote(method) + " is not a method name");
    } else if (std::any_of(method.begin(), method.end(),
                           [](char c) { return c >= 'a' && c <= 'z'; })) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
      w.error(method_nodes[i], mb.at("methods") + ": methods are case-sensitive: write '" + upper +
                                   "', not " + quote(method));
    }
  }
  if (const YAML::Node h = field(n, "headers"); h.IsDefined()) {
    const Block hb = mb.child("headers");
    if (!h.IsMap()) {
      w.error(h, hb.label() + ": expected a map of field name to value, got " + describe(h));
    } else {
      for (const auto& kv : h) {
        HeaderMatch hm;
        if (!w.scalar(kv.first, hb.label(), hm.name)) continue;
        if (!is_token(hm.name)) {
          w.error(kv.first, hb.label() + ": " + quote(hm.name) + " is not a valid field name");
          continue;
        }
        const Block fb = hb.child(hm.name);
        if (kv.second.IsScalar()) {
          hm.value = kv.second.Scalar();
        } else if (kv.second.IsMap()) {
          if (!w.map_with_keys(kv.second, fb, {"regex", "present"})) continue;
          if (kv.second.size() != 1) {
            w.error(kv.second, fb.label() + ": use either {regex: ...} or {present: true}");
            continue;
          }
          if (field(kv.second, "regex").IsDefined()) {
            hm.kind = HeaderMatch::Kind::regex;
            if (!w.string_field(kv.second, "regex", fb, hm.value)) continue;
          } else if (field(kv.second, "present").IsDefined()) {
            hm.kind = HeaderMatch::Kind::present;
            bool present = false;
            if (!w.bool_value(field(kv.second, "present"), fb.at("present"), present)) continue;
            if (!present) {
              w.error(field(kv.second, "present"),
                      fb.at("present") + ": only 'present: true' is supported");
              continue;
            }
          } else {
            continue;  // the unknown key was reported
          }
        } else {
          w.error(kv.second, fb.label() +
                                 ": expected a value, {regex: ...} or {present: true}, got " +
                                 describe(kv.second));
          continue;
        }
        m.headers.push_back(std::move(hm));
      }
    }
  }
  if (const YAML::Node q = field(n, "query"); q.IsDefined()) {
    const Block qb = mb.child("query");
    if (!q.IsMap()) {
      w.error(q, qb.label() + ": expected a map of parameter name to value, got " + describe(q));
    } else {
      for (const auto& kv : q) {
        QueryMatch qm;
        if (!w.string_value(kv.first, qb.label(), qm.name)) continue;
        const Block fb = qb.child(qm.name);
        if (kv.second.IsScalar()) {
          qm.value = kv.second.Scalar();
        } else if (kv.second.IsMap()) {
          if (!w.map_with_keys(kv.second, fb, {"present"})) continue;
          const YAML::Node p = field(kv.second, "present");
          bool present = false;
          if (!p.IsDefined() || !w.bool_value(p, fb.at("present"), present)) continue;
          if (!present) {
            w.error(p, fb.at("present") + ": only 'present: true' is supported");
            continue;
          }
          qm.kind = QueryMatch::Kind::present;
        } else {
          w.error(kv.second,
                  fb.label() + ": expected a value or {present: true}, got " + describe(kv.second));
          continue;
        }
        m.query.push_back(std::move(qm));
      }
    }
  }
}

// "$N" in rewrite.path or redirect.path refers to a capture of path_regex.
void check_captures(Walker& w, const YAML::Node& n, const std::string& what, std::string_view text,
                    const RouteMatch& m) {
  std::string why;
  bool any = false;
  std::vector<std::string> names;
  const int highest = check_template(text, why, any, names);
  if (highest < 0) {
    w.error(n, what + ": " + why);
  } else if (any && !m.path_regex) {
    w.error(n, what + ": uses $" + std::to_string(highest) +
                   ", but the route has no match.path_regex to capture from");
  } else if (highest > 0 && highest > count_groups(*m.path_regex)) {
    w.error(n, what + ": uses $" + std::to_string(highest) + ", but match.path_regex has only " +
                   std::to_string(count_groups(*m.path_regex)) + " capture group(s)");
  } else if (m.path_regex) {
    for (const auto& name : names) {
      const std::string& re = *m.path_regex;
      if (re.find("(?P<" + name + ">") == std::string::npos &&
          re.find("(?<" + name + ">") == std::string::npos) {
        w.error(n, what + ": uses ${" + name + "}, but match.path_regex has no group named '" +
                       name + "'");
      }
    }
  }
}

void load_route(Walker& w, const YAML::Node& n, std::size_t index, Route& r) {
  r.where = where(n);
  r.name_where = r.where;
  r.name = "route-" + std::to_string(index + 1);
  Block b{owner_name(n, "route", index), ""};
  if (!(n.IsMap() && field(n, "name").IsDefined())) b.owner = "route " + quote(r.name);
  if (!w.map_with_keys(n, b,
                       {"name", "listeners", "priority", "match", "rewrite", "backend", "respond",
                        "redirect", "allow_connect"})) {
    return;
  }
  if (w.string_field(n, "name", b, r.name)) {
    r.name_where = where(field(n, "name"));
    if (!valid_name(r.name)) {
      w.error(field(n, "name"), b.at("name") +
                                    ": names are 1 to 128 characters without spaces or control "
                                    "characters");
    }
  }
  b.owner = "route " + quote(r.name);
  w.string_list(n, "listeners", b, r.listeners, &r.listeners_where);
  w.int_field(n, "priority", b, -1'000'000, 1'000'000, r.priority);
  if (const YAML::Node m = field(n, "match"); m.IsDefined()) load_match(w, m, b, r.match);

  const int actions = (field(n, "backend").IsDefined() ? 1 : 0) +
                      (field(n, "respond").IsDefined() ? 1 : 0) +
                      (field(n, "redirect").IsDefined() ? 1 : 0);
  if (actions == 0 && !w.suggested(n, "backend") && !w.suggested(n, "respond") &&
      !w.suggested(n, "redirect")) {
    w.error(n, b.label() + ": needs one of 'backend', 'respond' or 'redirect'");
  } else if (actions > 1) {
    w.error(n, b.label() + ": use only one of 'backend', 'respond' and 'redirect'");
  }
  w.opt_string(n, "backend", b, r.backend);
  r.backend_where = where(field(n, "backend"));
  w.bool_field(n, "allow_connect", b, r.allow_connect);
  if (r.allow_connect && !field(n, "backend").IsDefined()) {
    w.error(field(n, "allow_connect"),
            b.at("allow_connect") + ": only routes with a 'backend' can tunnel CONNECT requests");
  }

  if (const YAML::Node rw = field(n, "rewrite"); rw.IsDefined()) {
    const Block wb = b.child("rewrite");
    if (!field(n, "backend").IsDefined()) {
      w.error(rw, wb.label() + ": only routes with a 'backend' can rewrite");
    }
    if (w.map_with_keys(rw, wb, {"path", "strip_prefix", "add_prefix", "host"})) {
      Rewrite x;
      load_path(w, rw, "path", wb, x.path);
      load_path(w, rw, "strip_prefix", wb, x.strip_prefix);
      load_path(w, rw, "add_prefix", wb, x.add_prefix);
      if (w.opt_string(rw, "host", wb, x.host) && !valid_field_value(*x.host)) {
        w.error(field(rw, "host"), wb.at("host") + ": cannot contain a line break");
      }
      if (x.path) check_captures(w, field(rw, "path"), wb.at("path"), *x.path, r.match);
      if (x.path && (x.strip_prefix || x.add_prefix)) {
        w.error(rw, wb.label() +
                        ": 'path' replaces the whole path; use it or strip_prefix/add_prefix, "
                        "not both");
      }
      r.rewrite = std::move(x);
    }
  }

  if (const YAML::Node rs = field(n, "respond"); rs.IsDefined()) {
    const Block sb = b.child("respond");
    if (w.map_with_keys(rs, sb, {"status", "headers", "body"})) {
      Respond x;
      w.int_field(rs, "status", sb, 100, 599, x.status);
      if (const YAML::Node h = field(rs, "headers"); h.IsDefined()) {
        w.field_map(h, sb.at("headers"), x.headers);
      }
      if (const YAML::Node body = field(rs, "body"); body.IsDefined()) {
        w.scalar(body, sb.at("body"), x.body);
        const bool bodiless = x.status < 200 || x.status == 204 || x.status == 304;
        if (bodiless && !x.body.empty()) {
          w.error(body, sb.at("body") + ": a " + std::to_string(x.status) +
                            " response never carries a body");
        }
      }
      r.respond = std::move(x);
    }
  }

  if (const YAML::Node rd = field(n, "redirect"); rd.IsDefined()) {
    const Block db = b.child("redirect");
    if (w.map_with_keys(rd, db, {"status", "scheme", "host", "port", "path", "keep_query"})) {
      Redirect x;
      if (const YAML::Node s = field(rd, "status"); s.IsDefined()) {
        int status = 0;
        if (w.int_value(s, db.at("status"), 100, 599, status)) {
          if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
            w.error(s, db.at("status") + ": expected 301, 302, 303, 307 or 308, got " +
                           quote(s.Scalar()));
          } else {
            x.status = status;
          }
        }
      }
      if (w.opt_string(rd, "scheme", db, x.scheme) && *x.scheme != "http" && *x.scheme != "https") {
        w.error(field(rd, "scheme"),
                db.at("scheme") + ": expected http or https, got " + quote(*x.scheme));
      }
      if (w.opt_string(rd, "host", db, x.host) && !valid_host_name(*x.host)) {
        HostPort hp;
        std::string why;
        // "[::1]" is a valid host too; reuse the address parser with a dummy port.
        if (!(x.host->front() == '[' &&
              parse_address(*x.host + ":1", AddressUse::server, hp, why))) {
          w.error(field(rd, "host"),
                  db.at("host") + ": expected a host name (without a port), got " + quote(*x.host));
        }
      }
      w.opt_int(rd, "port", db, 1, 65535, x.port);
      load_path(w, rd, "path", db, x.path);
      if (x.path) check_captures(w, field(rd, "path"), db.at("path"), *x.path, r.match);
      w.bool_field(rd, "keep_query", db, x.keep_query);
      if (!field(rd, "scheme").IsDefined() && !field(rd, "host").IsDefined() &&
          !field(rd, "port").IsDefined() && !field(rd, "path").IsDefined()) {
        w.error(rd, db.label() +
                        ": needs at least one of scheme, host, port or path (otherwise it "
                        "redirects to itself)");
      }
      r.redirect = std::move(x);
    }
  }
}

// ----------------------------------------------------------------- backends

void load_server(Walker& w, const YAML::Node& n, const Block& sb, Server& s) {
  if (n.IsScalar()) {
    s.address_where = where(n);
    if (w.string_value(n, sb.label(), s.address)) {
      w.address_check(n, sb.label(), s.address, AddressUse::server);
    }
    return;
  }
  s.address_where = where(n);
  if (!n.IsMap()) {
    w.error(n, sb.label() + ": expected \"host:port\" or a map with 'address', got " + describe(n));
    return;
  }
  if (!w.map_with_keys(n, sb, {"address", "weight", "max_connections", "send_proxy", "backup"})) {
    return;
  }
  if (w.string_field(n, "address", sb, s.address, true)) {
    s.address_where = where(field(n, "address"));
    w.address_check(field(n, "address"), sb.at("address"), s.address, AddressUse::server);
  }
  w.int_field(n, "weight", sb, 1, 256, s.weight);
  w.opt_int(n, "max_connections", sb, 1, 1'000'000, s.max_connections);
  w.choice_field(n, "send_proxy", sb, kSendProxy, s.send_proxy);
  w.bool_field(n, "backup", sb, s.backup);
}

// "204", "200-399": one status or a range, each 100..599.
bool parse_status_range(std::string_view text, StatusRange& out) {
  auto number = [](std::string_view t, int& n) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    return !t.empty() && ec == std::errc{} && end == t.data() + t.size() && n >= 100 && n <= 599;
  };
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!number(text, out.first)) return false;
    out.last = out.first;
    return true;
  }
  return number(text.substr(0, dash), out.first) && number(text.substr(dash + 1), out.last) &&
         out.first <= out.last;
}

// expect_status: 200, "200-399", or a list of those.
void load_expect_status(Walker& w, const YAML::Node& n, const std::string& what,
                        std::vector<StatusRange>& out) {
  std::vector<YAML::Node> items;
  if (n.IsSequence()) {
    if (n.size() == 0) w.error(n, what + ": expected at least one status");
    for (const auto& item : n)
      items.push_back(item);
  } else {
    items.push_back(n);
  }
  std::vector<StatusRange> ranges;
  for (const auto& item : items) {
    std::string text;
    if (!w.scalar(item, what, text)) return;
    StatusRange r;
    if (!parse_status_range(text, r)) {
      w.error(item, what + ": expected a status from 100 to 599 or a range such as 200-399, got " +
                        quote(text));
      return;
    }
    ranges.push_back(r);
  }
  if (!ranges.empty()) out = std::move(ranges);
}

// health_check.host: what a name-based server expects in Host, with an
// optional port ("app.example", "app.example:8080", "[::1]:8080").
bool valid_authority(const std::string& text) {
  HostPort hp;
  std::string why;
  if (valid_host_name(text)) return true;
  if (text.front() == '[' && text.back() == ']') {
    return parse_address(text + ":1", AddressUse::server, hp, why);
  }
  return parse_address(text, AddressUse::server, hp, why);
}

void load_health_check(Walker& w, const YAML::Node& h, const Block& hb, HealthCheck& hc) {
  if (!w.map_with_keys(h, hb,
                       {"type", "path", "host", "expect_status", "interval", "timeout", "rise",
                        "fall", "slow_start"})) {
    return;
  }
  w.choice_field(h, "type", hb, kCheckTypes, hc.type);
  if (hc.type == HealthCheckType::http) {
    std::optional<std::string> path;
    if (!field(h, "path").IsDefined()) {
      w.missing(h, hb, "path", "or 'type: tcp' for a connect-only check");
    }
    load_path(w, h, "path", hb, path);
    if (path) hc.path = *path;
    if (w.opt_string(h, "host", hb, hc.host) && !valid_authority(*hc.host)) {
      w.error(
          field(h, "host"),
          hb.at("host") + ": expected a host name, optionally with :port, got " + quote(*hc.host));
    }
    if (const YAML::Node e = field(h, "expect_status"); e.IsDefined()) {
      load_expect_status(w, e, hb.at("expect_status"), hc.expect_status);
    }
  } else {
    for (const char* key : {"path", "host", "expect_status"}) {
      if (h[key].IsDefined()) w.error(h[key], hb.at(key) + ": not used by a tcp health check");
    }
  }
  w.duration_field(h, "interval", hb, hc.interval);
  w.duration_field(h, "timeout", hb, hc.timeout);
  w.int_field(h, "rise", hb, 1, 100, hc.rise);
  w.int_field(h, "fall", hb, 1, 100, hc.fall);
  w.duration_field(h, "slow_start", hb, hc.slow_start);
  if (hc.timeout > hc.interval) {
    w.warning(h, hb.label() + ": timeout is longer than interval, so probes overlap");
  }
}

void load_backend(Walker& w, const YAML::Node& key, const YAML::Node& n, Backend& be) {
  be.name = key.Scalar();
  be.where = where(key);
  const Block b{"backend " + quote(be.name), ""};
  if (!w.map_with_keys(n, b,
                       {"balance", "hash", "sticky", "servers", "queue", "pool", "tcp_keepalive",
                        "timeouts", "retries", "health_check", "resolve_interval"})) {
    return;
  }
  w.choice_field(n, "balance", b, kBalances, be.balance);
  if (const YAML::Node h = field(n, "hash"); h.IsDefined()) {
    const Block hb = b.child("hash");
    if (w.map_with_keys(h, hb, {"key", "name"})) {
      Hash x;
      w.choice_field(h, "key", hb, kHashKeys, x.key);
      const bool named = x.key == HashKey::header || x.key == HashKey::cookie;
      if (named) {
        if (w.string_field(h, "name", hb, x.name, true) && !is_token(x.name)) {
          w.error(field(h, "name"), hb.at("name") + ": " + quote(x.name) + " is not a valid name");
        }
      } else if (field(h, "name").IsDefined()) {
        w.error(field(h, "name"), hb.at("name") + ": only used with key header or cookie");
      }
      if (be.balance != Balance::hash) {
        w.warning(h, hb.label() + ": ignored unless balance is hash");
      }
      be.hash = std::move(x);
    }
  }
  if (const YAML::Node s = field(n, "sticky"); s.IsDefined()) {
    const Block sb = b.child("sticky");
    if (w.map_with_keys(s, sb, {"cookie"})) {
      Sticky x;
      if (w.string_field(s, "cookie", sb, x.cookie, true) && !is_token(x.cookie)) {
        w.error(field(s, "cookie"),
                sb.at("cookie") + ": " + quote(x.cookie) + " is not a valid name");
      }
      be.sticky = std::move(x);
    }
  }
  const YAML::Node servers = field(n, "servers");
  if (!servers.IsDefined()) {
    w.missing(n, b, "servers");
  } else if (!servers.IsSequence() || servers.size() == 0) {
    w.error(servers,
            b.at("servers") + ": expected a non-empty list of servers, got " + describe(servers));
  } else {
    const Block sb = b.child("servers");
    for (const auto& sn : servers) {
      Server s;
      load_server(w, sn, sb, s);
      if (!s.address.empty()) be.servers.push_back(std::move(s));
    }
    if (!be.servers.empty() && std::all_of(be.servers.begin(), be.servers.end(),
                                           [](const Server& s) { return s.backup; })) {
      w.warning(servers, b.at("servers") + ": every server is a backup, so none is ever preferred");
    }
  }
  if (const YAML::Node q = field(n, "queue"); q.IsDefined()) {
    const Block qb = b.child("queue");
    if (w.map_with_keys(q, qb, {"timeout", "max_size"})) {
      w.duration_field(q, "timeout", qb, be.queue.timeout, true);
      w.int_field(q, "max_size", qb, 0, 1'000'000'000, be.queue.max_size);
    }
  }
  if (const YAML::Node p = field(n, "pool"); p.IsDefined()) {
    const Block pb = b.child("pool");
    if (w.map_with_keys(p, pb, {"max_idle_per_server", "idle_timeout", "reuse"})) {
      w.int_field(p, "max_idle_per_server", pb, 0, 100'000, be.pool.max_idle_per_server);
      w.duration_field(p, "idle_timeout", pb, be.pool.idle_timeout);
      w.choice_field(p, "reuse", pb, kReuse, be.pool.reuse);
    }
  }
  w.bool_field(n, "tcp_keepalive", b, be.tcp_keepalive);
  if (const YAML::Node t = field(n, "timeouts"); t.IsDefined()) {
    const Block tb = b.child("timeouts");
    if (w.map_with_keys(t, tb, {"connect", "response", "idle"})) {
      w.duration_field(t, "connect", tb, be.timeouts.connect);
      w.duration_field(t, "response", tb, be.timeouts.response);
      w.duration_field(t, "idle", tb, be.timeouts.idle);
    }
  }
  if (const YAML::Node r = field(n, "retries"); r.IsDefined()) {
    const Block rb = b.child("retries");
    if (w.map_with_keys(r, rb,
                        {"attempts", "per_try_timeout", "max_body", "budget", "idempotency_key"})) {
      w.int_field(r, "attempts", rb, 0, 10, be.retries.attempts);
      if (const YAML::Node pt = field(r, "per_try_timeout"); pt.IsDefined()) {
        Duration d{};
        if (w.duration_value(pt, rb.at("per_try_timeout"), false, d)) {
          be.retries.per_try_timeout = d;
        }
      }
      w.size_field(r, "max_body", rb, be.retries.max_body);
      w.int_field(r, "budget", rb, 0, 100, be.retries.budget);
      w.bool_field(r, "idempotency_key", rb, be.retries.idempotency_key);
    }
  }
  if (const YAML::Node h = field(n, "health_check"); h.IsDefined()) {
    HealthCheck hc;
    load_health_check(w, h, b.child("health_check"), hc);
    be.health_check = std::move(hc);
  }
  w.duration_field(n, "resolve_interval", b, be.resolve_interval, true);
}

// -------------------------------------------------------------------- admin

// A bearer token travels as an RFC 6750 §2.1 b64token: letters, digits,
// "-._~+/", then any number of '='.
bool valid_bearer_token(std::string_view t) {
  const std::size_t end = t.find_last_not_of('=') + 1;
  return end > 0 &&
         std::all_of(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(end), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) ||
                  std::string_view("-._~+/").find(c) != std::string_view::npos;
         });
}

constexpr std::size_t kMaxTokenBytes = 1024;

// Reads the token in `path`: one line, its line break (LF or CRLF) dropped.
// False with `why` set when it cannot be read or used.
bool read_token_file(const std::string& path, std::string& token, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text(kMaxTokenBytes + 3, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    why = "cannot read " + path;
    return false;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  if (text.empty()) {
    why = path + " is empty: it must hold the token";
    return false;
  }
  if (text.size() > kMaxTokenBytes) {
    why = path + " holds more than " + std::to_string(kMaxTokenBytes) +
          " bytes; a token that long does not fit in a request head";
    return false;
  }
  if (!valid_bearer_token(text)) {
    why = path +
          " must hold one line of letters, digits and -._~+/ (then any '='), as a bearer "
          "token is sent (RFC 6750); it holds something else (a space, a second line?)";
    return false;
  }
  token = std::move(text);
  return true;
}

// A Host value as a client writes it: "name", "name:port", "[v6]" or
// "[v6]:port". Lower-cased, trailing dot dropped; false if malformed.
bool normalise_admin_name(std::string& name) {
  for (char& ch : name)
    ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  std::string_view host = name;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return false;
      port = host.substr(close + 2);
    }
    const std::string v6(host.substr(1, close - 1));
    in6_addr a{};
    if (inet_pton(AF_INET6, v6.c_str(), &a) != 1) return false;
    host = host.substr(0, close + 1);
  } else {
    if (const auto colon = host.find(':'); colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (!valid_host_name(host)) return false;
  }
  if (name.find(':') != std::string::npos && name.front() != '[' && port.empty()) return false;
  if (!port.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p < 1 || p > 65535) return false;
  }
  name = std::string(host) + (port.empty() ? "" : ":" + std::string(port));
  return true;
}

bool load_admin(Walker& w, const YAML::Node& a, std::string_view base_dir, Admin& admin) {
  const Block ab{"", "admin"};
  if (!w.map_with_keys(
          a, ab,
          {"listen", "token_file", "names", "max_body", "max_connections", "request_timeout"})) {
    return false;
  }
  if (w.string_field(a, "listen", ab, admin.listen, true)) {
    w.address_check(field(a, "listen"), ab.at("listen"), admin.listen, AddressUse::listen);
    admin.listen_where = where(field(a, "listen"));
  }
  std::string token_file;
  if (w.string_field(a, "token_file", ab, token_file)) {
    const YAML::Node n = field(a, "token_file");
    admin.token_file = token_file;
    admin.token_file_where = where(n);
    // Relative to the configuration file, wherever sluice was started.
    std::string path = token_file;
    if (path.front() != '/' && !base_dir.empty()) path = std::string(base_dir) + "/" + path;
    std::string why;
    if (!read_token_file(path, admin.token, why)) w.error(n, ab.at("token_file") + ": " + why);
  }
  std::vector<YAML::Node> nodes;
  w.string_list(a, "names", ab, admin.names, nullptr, &nodes);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!normalise_admin_name(admin.names[i])) {
      w.error(nodes[i], ab.at("names") +
                            ": expected a host name as clients send it in Host (admin.example "
                            "or admin.example:9901), got " +
                            quote(nodes[i].Scalar()));
    }
  }
  if (const YAML::Node n = field(a, "max_body"); n.IsDefined()) {
    std::uint64_t v = 0;
    if (w.size_value(n, ab.at("max_body"), v)) {
      if (v == 0) {
        w.error(n, ab.at("max_body") + ": must be at least 1 byte");
      } else {
        admin.max_body = v;
      }
    }
  }
  w.int_field(a, "max_connections", ab, 1, 100'000, admin.max_connections);
  w.duration_field(a, "request_timeout", ab, admin.request_timeout);
  return true;
}

// --------------------------------------------------------------- top level

void load_root(Walker& w, const YAML::Node& root, std::string_view base_dir, Config& c) {
  const Block top{"", ""};
  if (!w.map_with_keys(root, top,
                       {"workers", "admin", "listeners", "routes", "backends", "forwarded",
                        "shutdown", "log", "watch"})) {
    return;
  }
  if (const YAML::Node n = field(root, "workers"); n.IsDefined()) {
    if (!(n.IsScalar() && n.Scalar() == "auto")) {
      std::string v;
      long long x = 0;
      if (w.scalar(n, "workers", v)) {
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || x < 1 || x > 1024) {
          w.error(n, "workers: expected auto or a whole number from 1 to 1024, got " + quote(v));
        } else {
          c.workers = static_cast<int>(x);
        }
      }
    }
  }
  if (const YAML::Node a = field(root, "admin"); a.IsDefined()) {
    Admin admin;
    if (load_admin(w, a, base_dir, admin)) c.admin = std::move(admin);
  }
  const YAML::Node listeners = field(root, "listeners");
  if (!listeners.IsDefined()) {
    w.missing(root, top, "listeners");
  } else if (!listeners.IsSequence() || listeners.size() == 0) {
    w.error(listeners,
            "listeners: expected a non-empty list of listeners, got " + describe(listeners));
  } else {
    std::size_t i = 0;
    for (const auto& n : listeners)
      load_listener(w, n, i++, c.listeners.emplace_back());
  }
  if (const YAML::Node routes = field(root, "routes"); routes.IsDefined()) {
    if (!routes.IsSequence()) {
      w.error(routes, "routes: expected a list of routes, got " + describe(routes));
    } else {
      std::size_t i = 0;
      for (const auto& n : routes)
        load_route(w, n, i++, c.routes.emplace_back());
    }
  }
  if (const YAML::Node backends = field(root, "backends"); backends.IsDefined()) {
    if (!backends.IsMap()) {
      w.error(backends,
              "backends: expected a map of backend name to settings, got " + describe(backends));
    } else {
      std::map<std::string, int> names;
      for (const auto& kv : backends) {
        std::string name;
        if (!w.string_value(kv.first, "backends", name)) continue;
        if (!valid_name(name)) {
          w.error(kv.first, "backends: " + quote(name) +
                                " is not a valid name: names are 1 to 128 characters without "
                                "spaces or control characters");
          continue;
        }
        if (auto [it, fresh] = names.emplace(name, where(kv.first).line); !fresh) {
          w.error(kv.first, "backends: backend '" + name + "' is defined twice (first on line " +
                                std::to_string(it->second) + ")");
          continue;
        }
        load_backend(w, kv.first, kv.second, c.backends.emplace_back());
      }
    }
  }
  if (const YAML::Node f = field(root, "forwarded"); f.IsDefined()) {
    const Block fb{"", "forwarded"};
    if (w.map_with_keys(f, fb,
                        {"x_forwarded_for", "x_forwarded_proto", "x_forwarded_host", "except"})) {
      w.bool_field(f, "x_forwarded_for", fb, c.forwarded.x_forwarded_for);
      w.bool_field(f, "x_forwarded_proto", fb, c.forwarded.x_forwarded_proto);
      w.bool_field(f, "x_forwarded_host", fb, c.forwarded.x_forwarded_host);
      std::vector<YAML::Node> nodes;
      w.string_list(f, "except", fb, c.forwarded.except, nullptr, &nodes);
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        if (!valid_cidr(c.forwarded.except[i])) {
          w.error(nodes[i], fb.at("except") +
                                ": expected a network such as 10.0.0.0/8 or ::1/128, got " +
                                quote(c.forwarded.except[i]));
        }
      }
    }
  }
  if (const YAML::Node s = field(root, "shutdown"); s.IsDefined()) {
    const Block sb{"", "shutdown"};
    if (w.map_with_keys(s, sb, {"grace"})) {
      w.duration_field(s, "grace", sb, c.shutdown.grace, true);
    }
  }
  if (const YAML::Node l = field(root, "log"); l.IsDefined()) {
    const Block lb{"", "log"};
    if (w.map_with_keys(l, lb, {"level", "access"})) {
      w.choice_field(l, "level", lb, kLogLevels, c.log.level);
      w.bool_field(l, "access", lb, c.log.access);
    }
  }
  w.bool_field(root, "watch", top, c.watch);
}

bool has_error(const std::vector<Diagnostic>& d) {
  return std::any_of(d.begin(), d.end(),
                     [](const Diagnostic& x) { return x.severity == Severity::error; });
}

// Records where each document starts and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark& m) override { marks.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

struct Documents {
  std::size_t count = 0;
  bool stuck = false;  // the parser stopped advancing at `pos`
  std::size_t pos = 0;
  SourceLocation at{1, 1};  // the second document, or where it got stuck
};

// Counts the documents in `text`, looking at no more than three. yaml-cpp
// 0.7 never gets past a stray ',' outside a flow collection: it reports an
// empty document there again and again, so YAML::LoadAll would allocate
// until memory runs out. Two document starts at one place mean exactly that.
Documents check_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  for (int i = 0; i < 3 && parser.HandleNextDocument(starts); ++i) {
  }
  Documents d;
  d.count = starts.marks.size();
  for (std::size_t i = 1; i < starts.marks.size(); ++i) {
    if (starts.marks[i].pos == starts.marks[i - 1].pos) {
      d.stuck = true;
      d.pos = static_cast<std::size_t>(starts.marks[i].pos);
      d.at = {starts.marks[i].line + 1, starts.marks[i].column + 1};
      return d;
    }
  }
  if (d.count > 1) d.at = {starts.marks[1].line + 1, starts.marks[1].column + 1};
  return d;
}

// The document check parses the whole text a second time (yaml-cpp's
// scanner is most of the load time for a large file), so it runs only where
// YAML::Load could stop after a first document without an error: document
// markers or directives, or a root that is not a plain block mapping (a
// block mapping followed by anything else makes YAML::Load throw).
bool may_hold_more_documents(const std::string& text) {
  bool first_significant = true;
  std::size_t line = 0;
  while (line < text.size()) {
    const std::size_t eol = std::min(text.find('\n', line), text.size());
    const std::string_view l(text.data() + line, eol - line);
    if (l.substr(0, 3) == "---" || l.substr(0, 3) == "..." || l.substr(0, 1) == "%") return true;
    const auto first = l.find_first_not_of(" \t\r");
    if (first_significant && first != std::string_view::npos && l[first] != '#') {
      if (std::string_view("&!{[,-?\"'|>*@`").find(l[first]) != std::string_view::npos) return true;
      first_significant = false;
    }
    line = eol + 1;
  }
  return false;
}

}  // namespace

LoadResult load_string(std::string_view yaml, std::string_view file_name,
                       std::string_view base_dir) {
  LoadResult result;
  auto config = std::make_shared<Config>();
  config->file = std::string(file_name);
  Walker w(config->file, result.diagnostics);
  const std::string text(yaml);
  try {
    YAML::Node root;
    try {
      const auto extra = may_hold_more_documents(text) ? check_documents(text) : Documents{};
      if (extra.stuck) {
        const char c = extra.pos < text.size() ? text[extra.pos] : ' ';
        w.report(extra.at, Severity::error,
                 "invalid YAML: unexpected " + quote(std::string_view(&c, 1)));
        return result;
      }
      if (extra.count > 1) {
        w.report(extra.at, Severity::error,
                 "expected a single YAML document, found another one here");
      }
      root = YAML::Load(text);  // the first document only
    } catch (const YAML::DeepRecursion& e) {
      w.report({e.mark.line + 1, e.mark.column + 1}, Severity::error,
               "invalid YAML: nested too deeply (" + std::to_string(e.depth()) + " levels)");
      return result;
    } catch (const YAML::Exception& e) {
      SourceLocation at{e.mark.line + 1, e.mark.column + 1};
      if (e.mark.is_null()) at = {1, 1};
      w.report(at, Severity::error, "invalid YAML: " + e.msg);
      return result;
    }
    if (!root.IsDefined() || root.IsNull()) {
      if (result.diagnostics.empty()) {
        w.report({1, 1}, Severity::error, "the file is empty: expected at least 'listeners'");
      }
    } else {
      load_root(w, root, base_dir, *config);
      validate(*config, result.diagnostics);
    }
  } catch (const std::exception& e) {
    // The walk checks node types before every access, so this is a case we
    // did not foresee: report it rather than let it escape.
    w.report({1, 1}, Severity::error, std::string("invalid configuration: ") + e.what());
  }
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  if (!has_error(result.diagnostics)) result.config = std::move(config);
  return result;
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.diagnostics.push_back(
        Diagnostic{path, 0, 0, Severity::error,
                   "cannot open the configuration file: " + std::string(std::strerror(errno))});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    LoadResult r;
    r.diagnostics.push_back(
        Diagnostic{path, 0, 0, Severity::error, "cannot read the configuration file"});
    return r;
  }
  return load_string(ss.str(), path, directory_of(path));
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string summary(const Config& c) {
  std::size_t servers = 0;
  for (const auto& b : c.backends)
    servers += b.servers.size();
  auto plural = [](std::size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  return plural(c.listeners.size(), "listener") + ", " + plural(c.routes.size(), "route") + ", " +
         plural(c.backends.size(), "backend") + ", " + plural(servers, "server");
}

}  // namespace sluice::config
