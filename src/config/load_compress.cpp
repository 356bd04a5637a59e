// The 'compress' middleware (docs/middlewares/compress.md).
#include <algorithm>
#include <array>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

constexpr std::array<Choice<Coding>, 3> kCodings{{
    {"br", Coding::br},
    {"zstd", Coding::zstd},
    {"gzip", Coding::gzip},
}};

void load_algorithms(Walker& w, const yaml::Node& map, const Block& b, std::vector<Coding>& out) {
  const yaml::Node n = field(map, "algorithms");
  if (!n.IsDefined()) return;
  if (!n.IsSequence() || n.size() == 0) {
    w.error(n, b.at("algorithms") + ": expected a list of br, zstd and gzip, got " + describe(n));
    return;
  }
  std::vector<Coding> read;
  for (const auto& item : n) {
    std::string v;
    if (!w.scalar(item, b.at("algorithms"), v)) return;
    const Coding* found = nullptr;
    for (const auto& c : kCodings) {
      if (c.text == v) found = &c.value;
    }
    if (!found) {
      const std::string hint = suggest(v, {"br", "zstd", "gzip"});
      w.error(item, b.at("algorithms") + ": expected br, zstd or gzip, got " + quote(v) +
                        (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
      return;
    }
    if (std::find(read.begin(), read.end(), *found) != read.end()) {
      w.error(item, b.at("algorithms") + ": " + quote(v) + " is listed twice");
      return;
    }
    read.push_back(*found);
  }
  out = std::move(read);
}

void load_levels(Walker& w, const yaml::Node& map, const Block& b, CompressLevels& out) {
  const yaml::Node n = field(map, "level");
  if (!n.IsDefined()) return;
  const Block lb = b.child("level");
  if (!w.map_with_keys(n, lb, {"gzip", "br", "zstd"})) return;
  w.int_field(n, "gzip", lb, 1, 9, out.gzip);
  w.int_field(n, "br", lb, 0, 11, out.br);
  w.int_field(n, "zstd", lb, 1, 19, out.zstd);
}

// "type/subtype" or a prefix of one ending in '*' ("text/*", "application/*+json"
// is not a prefix and is refused); lower-cased.
bool valid_type(std::string& t, std::string& why) {
  for (char& c : t) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
  }
  const auto star = t.find('*');
  if (star != std::string::npos && star + 1 != t.size()) {
    why = "'*' may only end a type (as in text/*)";
    return false;
  }
  const std::string_view stem = std::string_view(t).substr(0, std::min(star, t.size()));
  const auto slash = stem.find('/');
  if (star == std::string::npos &&
      (slash == std::string_view::npos || slash == 0 || slash + 1 == stem.size())) {
    why = "expected a media type such as text/html or text/*";
    return false;
  }
  for (char c : stem) {
    if (c != '/' && !is_token(std::string_view(&c, 1))) {
      why = "expected a media type such as text/html or text/*, without parameters";
      return false;
    }
  }
  if (stem.find('/') != stem.rfind('/')) {
    why = "expected a media type such as text/html or text/*";
    return false;
  }
  // RFC 8895 §9.2 (Server-Sent Events): events must reach the client as they
  // are produced, so the middleware never compresses them.
  if (t == "text/event-stream") {
    why = "text/event-stream (Server-Sent Events) is never compressed";
    return false;
  }
  return true;
}

void load_types(Walker& w, const yaml::Node& map, const Block& b, std::vector<std::string>& out) {
  if (!field(map, "types").IsDefined()) return;
  std::vector<std::string> read;
  std::vector<yaml::Node> nodes;
  if (!w.string_list(map, "types", b, read, nullptr, &nodes)) return;
  if (read.empty()) {
    w.error(field(map, "types"),
            b.at("types") + ": an empty list compresses nothing (remove the middleware instead)");
    return;
  }
  for (std::size_t i = 0; i < read.size() && i < nodes.size(); ++i) {
    std::string why;
    if (!valid_type(read[i], why)) {
      w.error(nodes[i], b.at("types") + ": " + quote(read[i]) + ": " + why);
      return;
    }
  }
  out = std::move(read);
}

}  // namespace

void load_compress(Walker& w, const yaml::Node& n, const Block& b, Compress& out) {
  // `compress: {}` and a bare `compress:` both take every default.
  if (n.IsNull()) return;
  if (!w.map_with_keys(n, b, {"algorithms", "level", "min_size", "types"})) return;
  load_algorithms(w, n, b, out.algorithms);
  load_levels(w, n, b, out.level);
  w.size_field(n, "min_size", b, out.min_size);
  load_types(w, n, b, out.types);
}

}  // namespace sluice::config
