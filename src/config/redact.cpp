#include "config/redact.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <vector>

namespace sluice::config {
namespace {

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  return out;
}

// A scalar's bytes in the text: [begin, end).
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};

std::size_t line_end(std::string_view text, std::size_t pos) {
  const auto eol = text.find('\n', pos);
  return eol == std::string_view::npos ? text.size() : eol;
}

std::size_t indentation_of_line_at(std::string_view text, std::size_t pos) {
  const auto bol = text.rfind('\n', pos == 0 ? 0 : pos - 1);
  const std::size_t start = bol == std::string_view::npos || pos == 0 ? 0 : bol + 1;
  std::size_t i = start;
  while (i < text.size() && text[i] == ' ')
    ++i;
  return i - start;
}

// Where the scalar starting at `begin` ends (YAML 1.2 §7.3, §7.3.3, §8.1):
// a quoted one at its closing quote, a block one (| or >) with the last
// line indented deeper than its key's, a plain one at the end of its line
// or a comment (and, in a flow collection, at , ] or }).
Span scalar_span(std::string_view text, std::size_t begin, bool in_flow) {
  const char first = text[begin];
  if (first == '"' || first == '\'') {
    for (std::size_t i = begin + 1; i < text.size(); ++i) {
      if (first == '"' && text[i] == '\\') {
        ++i;
      } else if (first == '\'' && text[i] == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;
      } else if (text[i] == first) {
        return {begin, i + 1};
      }
    }
    return {begin, text.size()};
  }
  if (first == '|' || first == '>') {
    const std::size_t key_indent = indentation_of_line_at(text, begin);
    std::size_t end = line_end(text, begin);
    while (end < text.size()) {
      const std::size_t next = end + 1;
      const std::size_t next_end = line_end(text, next);
      const std::string_view line = text.substr(next, next_end - next);
      const bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
      if (!blank && indentation_of_line_at(text, next) <= key_indent) break;
      end = next_end;
    }
    return {begin, end};
  }
  std::size_t end = line_end(text, begin);
  if (const auto comment = text.substr(begin, end - begin).find(" #");
      comment != std::string_view::npos) {
    end = begin + comment;
  }
  if (in_flow) {
    const auto stop = text.substr(begin, end - begin).find_first_of(",]}");
    if (stop != std::string_view::npos) end = begin + stop;
  }
  while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r'))
    --end;
  return {begin, end};
}

// `fields`: `node` is a map of header fields (a sticky `cookie:` is not).
void find_secrets(std::string_view text, const YAML::Node& node, int depth, bool fields,
                  std::vector<Span>& out) {
  if (depth > 64) return;  // the loader refuses deeper nesting long before
  if (node.IsSequence()) {
    for (const auto& item : node)
      find_secrets(text, item, depth + 1, false, out);
    return;
  }
  if (!node.IsMap()) return;
  const bool in_flow = node.Style() == YAML::EmitterStyle::Flow;
  for (const auto& kv : node) {
    const YAML::Node& value = kv.second;
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    if (value.IsScalar() && (fields ? is_credential_field(key) : names_secret(key))) {
      const auto pos = static_cast<std::size_t>(value.Mark().pos);
      if (pos < text.size()) out.push_back(scalar_span(text, pos, in_flow));
      continue;
    }
    find_secrets(text, value, depth + 1, key == "set" || key == "add" || key == "headers", out);
  }
}

}  // namespace

bool is_credential_field(std::string_view name) {
  const std::string k = lowered(name);
  return k == "authorization" || k == "proxy-authorization" || k == "cookie" || k == "set-cookie" ||
         names_secret(name);
}

bool names_secret(std::string_view key) {
  const std::string k = lowered(key);
  if (k.ends_with("_file") || k == "htpasswd") return false;
  constexpr std::array<std::string_view, 7> kWords = {"password", "passwd",  "secret", "token",
                                                      "api-key",  "api_key", "apikey"};
  return std::any_of(kWords.begin(), kWords.end(),
                     [&](std::string_view w) { return k.find(w) != std::string::npos; });
}

std::string redact_secrets(std::string_view text, std::size_t* redacted) {
  if (redacted != nullptr) *redacted = 0;
  std::vector<Span> spans;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    find_secrets(text, root, 0, false, spans);
  } catch (const std::exception&) {
    return std::string(text);
  }
  // Back to front, so earlier offsets stay valid; an alias may give one
  // span twice.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin > b.begin; });
  spans.erase(std::unique(spans.begin(), spans.end(),
                          [](const Span& a, const Span& b) { return a.begin == b.begin; }),
              spans.end());
  std::string out(text);
  for (const Span& s : spans) {
    if (s.end <= s.begin) continue;
    out.replace(s.begin, s.end - s.begin, kRedacted);
  }
  if (redacted != nullptr) *redacted = spans.size();
  return out;
}

}  // namespace sluice::config
