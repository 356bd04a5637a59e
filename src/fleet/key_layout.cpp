// A configuration as etcd keys and back (docs/fleet.md, "Key layout").
//
// split_config keeps each value in the user's own words: the lines of an
// item are cut from the file and dedented, comments and quoting included,
// so that `config get` reads like the file that was pushed and a message
// about a value points at a line the user wrote. Where cutting cannot give
// back the same tree (flow style, an alias to an anchor in another item,
// odd indentation) the value is yaml-cpp's rendering of the node instead.
//
// compose_config indents each value under its section and records where
// every value landed, so that locate() maps the loader's positions in the
// composed text back to the key (or the file) and the value's own line.
#include "fleet/key_layout.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <set>

namespace sluice::fleet {

namespace {

// Sections kept as one key per item; everything else is a setting.
constexpr std::string_view kListSections[] = {"listeners", "routes"};
constexpr std::string_view kMapSections[] = {"backends", "middlewares"};
// The provider says where the configuration comes from: it stays in the
// local file and is never pushed.
constexpr std::string_view kLocalOnly = "provider";

bool is_one_of(std::string_view s, const auto& list) {
  return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

std::string with_slash(std::string_view prefix) {
  std::string p(prefix);
  if (!p.empty() && p.back() != '/') p += '/';
  return p;
}

std::string error_at(std::string_view where, std::size_t line, std::size_t column,
                     std::string_view what) {
  return std::string(where) + ":" + std::to_string(line) + ":" + std::to_string(column) +
         ": error: " + std::string(what);
}

std::string error_at(std::string_view where, const YAML::Mark& m, std::string_view what) {
  if (m.is_null()) return error_at(where, 0, 0, what);
  return error_at(where, static_cast<std::size_t>(m.line) + 1,
                  static_cast<std::size_t>(m.column) + 1, what);
}

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// The text's lines, without their line feeds; a last line feed ends the
// last line rather than starting an empty one.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::size_t indentation(std::string_view line) {
  const auto first = line.find_first_not_of(' ');
  return first == std::string_view::npos ? line.size() : first;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

bool comment(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  return first != std::string_view::npos && line[first] == '#';
}

// Whether two trees say the same thing: types, tags (a quoted "8080" stays
// a string), scalars, and map entries in order.
bool same_tree(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      return a.Scalar() == b.Scalar() && a.Tag() == b.Tag();
    case YAML::NodeType::Sequence:
    case YAML::NodeType::Map: {
      if (a.size() != b.size()) return false;
      auto ia = a.begin();
      auto ib = b.begin();
      for (; ia != a.end(); ++ia, ++ib) {
        if (a.IsMap()) {
          if (!same_tree(ia->first, ib->first) || !same_tree(ia->second, ib->second)) return false;
        } else if (!same_tree(*ia, *ib)) {
          return false;
        }
      }
      return true;
    }
    default:
      return true;
  }
}

// The node's own lines, from its mark up to (not including) line `end`,
// dedented by the node's column; nothing when a line of it is indented less
// than the node (then the lines do not hold it alone). Trailing blank lines
// and lines indented less than the node (comments before the next item, a
// lone '-') belong to what follows.
std::optional<std::string> cut(const std::vector<std::string_view>& lines, const YAML::Mark& m,
                               std::size_t end) {
  if (m.is_null() || m.line < 0 || static_cast<std::size_t>(m.line) >= lines.size()) return {};
  const auto first = static_cast<std::size_t>(m.line);
  const auto column = static_cast<std::size_t>(m.column);
  if (column > lines[first].size()) return {};
  end = std::min(end, lines.size());
  while (end > first + 1 && (blank(lines[end - 1]) || indentation(lines[end - 1]) < column))
    --end;
  std::string out(lines[first].substr(column));
  out += '\n';
  for (std::size_t i = first + 1; i < end; ++i) {
    const std::string_view line = lines[i];
    if (blank(line)) {
      out += '\n';
    } else if (indentation(line) >= column) {
      out += line.substr(column);
      out += '\n';
    } else if (comment(line)) {
      out += line.substr(indentation(line));
      out += '\n';
    } else {
      return {};
    }
  }
  return out;
}

// The value's text: cut from the file when that gives back the same tree,
// else yaml-cpp's rendering of it.
std::string value_text(const std::vector<std::string_view>& lines, const YAML::Node& node,
                       std::size_t end, bool flow_parent) {
  if (!flow_parent && node.Style() != YAML::EmitterStyle::Flow) {
    if (auto text = cut(lines, node.Mark(), end)) {
      try {
        if (same_tree(YAML::Load(*text), node)) return *text;
      } catch (const YAML::Exception&) {
      }
    }
  }
  YAML::Emitter out;
  out << node;
  return std::string(out.c_str()) + "\n";
}

std::string padded(std::size_t n, std::size_t width) {
  std::string s = std::to_string(n);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

std::size_t mark_line(const YAML::Node& n, std::size_t otherwise) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? otherwise : static_cast<std::size_t>(m.line);
}

struct Splitter {
  std::string_view origin;
  std::string prefix;
  std::vector<std::string_view> lines;
  SplitConfig out;
  std::set<std::string> written;

  void put(const YAML::Node& at, std::string key, std::string value) {
    if (!written.insert(key).second) {
      out.errors.push_back(
          error_at(origin, at.Mark(), "key " + quoted(key) + " would be written twice"));
      return;
    }
    out.keys.emplace_back(std::move(key), std::move(value));
  }

  // listeners and routes: one key per item, named by its `name`.
  void list(std::string_view section, const YAML::Node& items, std::size_t end) {
    if (!items.IsSequence()) {
      out.errors.push_back(
          error_at(origin, items.Mark(), std::string(section) + ": expected a list"));
      return;
    }
    const bool flow = items.Style() == YAML::EmitterStyle::Flow;
    // Unnamed routes are route-0001...: zero-padded, so that etcd's key
    // order (which is route order, see compose) keeps their file order.
    const std::size_t width = std::max<std::size_t>(4, std::to_string(items.size()).size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      const YAML::Node item = items[i];
      const std::size_t item_end = i + 1 < items.size() ? mark_line(items[i + 1], end) : end;
      std::string name;
      if (item.IsMap()) {
        const YAML::Node n = item["name"];
        if (n.IsDefined() && n.IsScalar()) name = n.Scalar();
      }
      if (name.empty()) {
        if (section != "routes") {
          out.errors.push_back(
              error_at(origin, item.Mark(),
                       std::string(section) + " " + std::to_string(i + 1) +
                           ": has no name; in etcd each one is a key named by its name"));
          continue;
        }
        name = "route-" + padded(i + 1, width);
      }
      put(item, prefix + std::string(section) + "/" + name,
          value_text(lines, item, item_end, flow));
    }
  }

  // backends and middlewares: one key per entry, named by its map key.
  void map(std::string_view section, const YAML::Node& entries, std::size_t end) {
    if (!entries.IsMap()) {
      out.errors.push_back(
          error_at(origin, entries.Mark(), std::string(section) + ": expected a map"));
      return;
    }
    const bool flow = entries.Style() == YAML::EmitterStyle::Flow;
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      auto next = it;
      ++next;
      const std::size_t entry_end = next != entries.end() ? mark_line(next->first, end) : end;
      if (!it->first.IsScalar() || it->first.Scalar().empty()) {
        out.errors.push_back(error_at(origin, it->first.Mark(),
                                      std::string(section) + ": expected a name as the key"));
        continue;
      }
      put(it->first, prefix + std::string(section) + "/" + it->first.Scalar(),
          value_text(lines, it->second, entry_end, flow));
    }
  }
};

}  // namespace

SplitConfig split_config(std::string_view yaml_text, std::string_view origin,
                         std::string_view prefix) {
  Splitter s{origin, with_slash(prefix), lines_of(yaml_text), {}, {}};
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    s.out.errors.push_back(error_at(origin, e.mark, "invalid YAML: " + e.msg));
    return std::move(s.out);
  }
  if (!root.IsMap()) {
    s.out.errors.push_back(error_at(origin, root.Mark(), "expected a map of top-level sections"));
    return std::move(s.out);
  }
  const bool flow = root.Style() == YAML::EmitterStyle::Flow;
  for (auto it = root.begin(); it != root.end(); ++it) {
    auto next = it;
    ++next;
    const std::size_t end =
        next != root.end() ? mark_line(next->first, s.lines.size()) : s.lines.size();
    if (!it->first.IsScalar()) {
      s.out.errors.push_back(error_at(origin, it->first.Mark(), "expected a section name"));
      continue;
    }
    const std::string& section = it->first.Scalar();
    if (section == kLocalOnly) continue;
    if (is_one_of(section, kListSections)) {
      s.list(section, it->second, end);
    } else if (is_one_of(section, kMapSections)) {
      s.map(section, it->second, end);
    } else {
      s.put(it->first, s.prefix + "settings/" + section,
            value_text(s.lines, it->second, end, flow));
    }
  }
  return std::move(s.out);
}

namespace {

// A name as YAML text: double-quoted, so that any name stays one scalar.
std::string yaml_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

class Composer {
 public:
  ComposedConfig out;

  // A line of ours, charged to `name`.
  void line(std::string_view name, std::string_view text) {
    out.pieces.push_back({std::string(name), next_line_, 1, 0, true});
    append(text);
  }

  // `value`'s lines, each indented by `indent` columns; the first line
  // starts with `first` instead when given (as long as `indent`).
  void value(std::string_view name, std::string_view value, std::size_t indent,
             std::string_view first = {}) {
    std::vector<std::string_view> lines = lines_of(value);
    if (lines.empty() && !first.empty()) lines.emplace_back();
    if (lines.empty()) return;
    out.pieces.push_back({std::string(name), next_line_, lines.size(), indent, false});
    const std::string pad(indent, ' ');
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i == 0 && !first.empty()) {
        append(std::string(first) + std::string(lines[i]));
      } else {
        append(blank(lines[i]) ? std::string() : pad + std::string(lines[i]));
      }
    }
  }

 private:
  void append(std::string_view text) {
    out.text += text;
    out.text += '\n';
    ++next_line_;
  }
  std::size_t next_line_ = 1;
};

// The line of `value` (1-based) that starts a document or holds a
// directive ("---", "...", "%..." at its start), or 0. Indented into the
// composed document such a line means something else than it does alone
// (YAML::Load reads the first document and drops the rest), so a value
// from etcd is one document without markers.
std::size_t document_marker_line(std::string_view value) {
  std::size_t line = 1;
  for (std::size_t at = 0; at < value.size(); ++line) {
    const std::size_t end = std::min(value.find('\n', at), value.size());
    const std::string_view text = value.substr(at, end - at);
    const bool marker = (text.starts_with("---") || text.starts_with("...")) &&
                        (text.size() == 3 || text[3] == ' ' || text[3] == '\t' || text[3] == '\r');
    if (marker || text.starts_with('%')) return line;
    at = end + 1;
  }
  return 0;
}

// A key's value, parsed on its own so that a broken one is named exactly.
std::optional<YAML::Node> parse_value(const std::string& key, const std::string& value,
                                      std::vector<std::string>& errors) {
  if (const std::size_t line = document_marker_line(value); line > 0) {
    errors.push_back(key + ":" + std::to_string(line) +
                     ":1: error: a value is one YAML document: no '---', '...' or "
                     "directive lines");
    return std::nullopt;
  }
  try {
    return YAML::Load(value);
  } catch (const YAML::Exception& e) {
    errors.push_back(error_at(key, e.mark, "invalid YAML: " + e.msg));
    return std::nullopt;
  }
}

struct Entry {
  std::string key;
  std::string name;  // the key after PREFIX/SECTION/
  const std::string* value;
};

}  // namespace

ComposedConfig compose_config(const std::map<std::string, std::string>& keys,
                              std::string_view prefix_in, std::string_view file_text,
                              std::string_view file_origin) {
  const std::string prefix = with_slash(prefix_in);
  Composer c;
  std::vector<std::string>& errors = c.out.errors;

  // The file's own sections, which etcd may not also define.
  std::set<std::string> in_file;
  try {
    const YAML::Node root = YAML::Load(std::string(file_text));
    if (root.IsMap()) {
      if (root.Style() == YAML::EmitterStyle::Flow || root.Mark().column != 0) {
        errors.push_back(error_at(file_origin, root.Mark(),
                                  "to be composed with etcd's keys, the file's top level must be "
                                  "a block map starting in column 1"));
      }
      for (const auto& kv : root)
        if (kv.first.IsScalar()) in_file.insert(kv.first.Scalar());
    }
  } catch (const YAML::Exception&) {
    // The loader reports it, at its place in the file.
  }

  // Keys by section, in etcd's (byte-wise) key order.
  std::map<std::string, std::vector<Entry>> sections;
  std::map<std::string, Entry> settings;
  for (const auto& [key, value] : keys) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = key.substr(prefix.size());
    if (rest == "generation") continue;
    const auto slash = rest.find('/');
    const std::string kind = rest.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (kind == "certificates") continue;  // the provider writes them to files
    if (slash == std::string::npos || name.empty() ||
        (kind != "settings" && !is_one_of(kind, kListSections) && !is_one_of(kind, kMapSections))) {
      errors.push_back(error_at(key, 0, 0,
                                "not a key of the layout: expected " + prefix + "generation or " +
                                    prefix + "{listeners,routes,backends,middlewares," +
                                    "certificates,settings}/NAME"));
      continue;
    }
    if (kind != "settings") {
      sections[kind].push_back({key, name, &value});
    } else if (name.find('/') != std::string::npos || name == kLocalOnly ||
               is_one_of(name, kListSections) || is_one_of(name, kMapSections)) {
      errors.push_back(error_at(
          key, 0, 0,
          name == kLocalOnly ? "the provider is configured in the local file only"
                             : "not a setting: listeners, routes, backends and middlewares are "
                               "keys of their own (" +
                                   prefix + name + "/NAME)"));
    } else {
      settings.emplace(name, Entry{key, name, &value});
    }
  }

  auto from_file = [&](const std::string& section, const std::string& key) {
    if (!in_file.contains(section)) return false;
    errors.push_back(error_at(key, 0, 0,
                              quoted(section) + " is in " + std::string(file_origin) +
                                  " too: a top-level section comes from the file or from etcd, "
                                  "not both"));
    return true;
  };

  if (!file_text.empty()) {
    std::string file(file_text);
    if (file.back() != '\n') file += '\n';
    c.value(file_origin, file, 0);
  }

  for (const std::string_view section : kListSections) {
    const auto it = sections.find(std::string(section));
    if (it == sections.end() || from_file(it->first, it->second.front().key)) continue;
    const std::string kind(section.substr(0, section.size() - 1));  // "route"
    c.line(prefix + it->first + "/", it->first + ":");
    for (const Entry& e : it->second) {
      const auto node = parse_value(e.key, *e.value, errors);
      if (!node) continue;
      std::optional<std::string> own_name;
      if (node->IsMap()) {
        const YAML::Node n = (*node)["name"];
        if (n.IsDefined()) own_name = n.IsScalar() ? n.Scalar() : e.name;
        if (own_name && *own_name != e.name) {
          errors.push_back(error_at(e.key, n.Mark(),
                                    "the " + kind + " is named " + quoted(*own_name) +
                                        ", but its key says " + quoted(e.name)));
          continue;
        }
        if (!own_name && node->Style() == YAML::EmitterStyle::Flow) {
          errors.push_back(error_at(
              e.key, node->Mark(),
              "a " + kind + " without `name` must be a block map (its key " + "gives the name)"));
          continue;
        }
      }
      if (node->IsMap() && !own_name) {
        // The key names it: an unnamed one would be named by its position.
        c.line(e.key, "  - name: " + yaml_string(e.name));
        c.value(e.key, *e.value, 4);
      } else {
        c.value(e.key, *e.value, 4, "  - ");
      }
    }
  }

  for (const std::string_view section : kMapSections) {
    const auto it = sections.find(std::string(section));
    if (it == sections.end() || from_file(it->first, it->second.front().key)) continue;
    c.line(prefix + it->first + "/", it->first + ":");
    for (const Entry& e : it->second) {
      if (!parse_value(e.key, *e.value, errors)) continue;
      c.line(e.key, "  " + yaml_string(e.name) + ":");
      c.value(e.key, *e.value, 4);
    }
  }

  for (const auto& [name, e] : settings) {
    if (from_file(name, e.key) || !parse_value(e.key, *e.value, errors)) continue;
    c.line(e.key, yaml_string(name) + ":");
    c.value(e.key, *e.value, 2);
  }
  return std::move(c.out);
}

std::string ComposedConfig::locate(std::string_view message) const {
  const std::string tag = std::string(kComposedOrigin) + ":";
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t found = message.find(tag, pos);
    if (found == std::string_view::npos) break;
    out += message.substr(pos, found - pos);
    pos = found + tag.size();
    // "LINE:COL"
    auto number = [&](std::size_t& at, std::size_t& value) {
      const std::size_t start = at;
      value = 0;
      while (at < message.size() && message[at] >= '0' && message[at] <= '9' && at - start < 9)
        value = value * 10 + static_cast<std::size_t>(message[at++] - '0');
      return at > start;
    };
    std::size_t at = pos;
    std::size_t line = 0;
    std::size_t column = 0;
    const bool numbers =
        number(at, line) && at < message.size() && message[at++] == ':' && number(at, column);
    // Pieces are in line order and do not overlap.
    auto piece = std::upper_bound(pieces.begin(), pieces.end(), line,
                                  [](std::size_t l, const Piece& p) { return l < p.first_line; });
    const bool inside =
        piece != pieces.begin() && line < (piece - 1)->first_line + (piece - 1)->lines;
    if (inside) --piece;
    if (!numbers || !inside) {
      out += tag;
      continue;
    }
    if (piece->written) {
      out += piece->name + ":0:0";
    } else {
      out += piece->name + ":" + std::to_string(line - piece->first_line + 1) + ":" +
             std::to_string(column > piece->indent ? column - piece->indent : 1);
    }
    pos = at;
  }
  out += message.substr(pos);
  return out;
}

}  // namespace sluice::fleet
