// The 'access_log' blocks (docs/config.md, "access_log"): the top-level one
// and a listener's override, and the format strings both take.
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

const std::vector<std::string>& access_log_field_names() {
  static const std::vector<std::string> names{
      "time",       "client_ip",     "client_port", "listener", "protocol",    "method",
      "host",       "path",          "status",      "bytes_in", "bytes_out",   "duration_ms",
      "connect_ms", "first_byte_ms", "route",       "backend",  "server",      "retries",
      "reused",     "termination",   "request_id",  "trace_id", "tls_version", "sni"};
  return names;
}

bool parse_access_log_format(std::string_view text, std::vector<AccessLogPiece>& out,
                             std::string& error, std::string& bad_name) {
  const auto add_literal = [&out](std::string_view s) {
    if (s.empty()) return;
    if (out.empty() || out.back().field != AccessLogField::literal) out.emplace_back();
    out.back().literal.append(s);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      add_literal(text.substr(i));
      break;
    }
    add_literal(text.substr(i, dollar - i));
    if (dollar + 1 < text.size() && text[dollar + 1] == '$') {
      add_literal("$");
      i = dollar + 2;
      continue;
    }
    if (dollar + 1 >= text.size() || text[dollar + 1] != '{') {
      error = "a '$' must start a variable such as '${status}'; write '$$' for a '$'";
      return false;
    }
    const std::size_t close = text.find('}', dollar + 2);
    if (close == std::string_view::npos) {
      error = "unclosed '${'";
      return false;
    }
    const std::string_view name = text.substr(dollar + 2, close - dollar - 2);
    const auto& names = access_log_field_names();
    std::size_t k = 0;
    while (k < names.size() && names[k] != name)
      ++k;
    if (k == names.size()) {
      bad_name = std::string(name);
      error = "unknown variable '${" + bad_name + "}'";
      return false;
    }
    out.push_back({static_cast<AccessLogField>(k + 1), {}});
    i = close + 1;
  }
  return true;
}

namespace {

constexpr std::array<Choice<AccessLogErrors>, 2> kErrors{
    {{"always", AccessLogErrors::always}, {"sampled", AccessLogErrors::sampled}}};

// A share of requests: a number from 0 to 1, or a percentage ("10%").
bool load_sample(Walker& w, const yaml::Node& map, const Block& b, std::optional<double>& out) {
  const yaml::Node n = field(map, "sample");
  if (!n.IsDefined()) return false;
  std::string v;
  if (!w.scalar(n, b.at("sample"), v)) return false;
  const bool percent = !v.empty() && v.back() == '%';
  const std::string_view digits(v.data(), v.size() - (percent ? 1 : 0));
  double x = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), x);
  if (percent) x /= 100;
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || !(x >= 0) ||
      x > 1) {
    w.error(n, b.at("sample") + ": expected a share of requests from 0 to 1 (0.1) or a " +
                   "percentage (10%), got " + quote(v));
    return false;
  }
  out = x;
  return true;
}

// "json", "text", or a format string with at least one variable.
bool load_format(Walker& w, const yaml::Node& map, const Block& b, std::string& format, bool& json,
                 std::vector<AccessLogPiece>& pieces) {
  const yaml::Node n = field(map, "format");
  std::string v;
  if (!n.IsDefined() || !w.string_value(n, b.at("format"), v)) return false;
  if (v == "json") {
    format = v;
    json = true;
    pieces.clear();
    return true;
  }
  const std::string_view text = v == "text" ? kAccessLogTextFormat : std::string_view(v);
  std::vector<AccessLogPiece> parsed;
  std::string error;
  std::string bad_name;
  if (!parse_access_log_format(text, parsed, error, bad_name)) {
    const std::string hint = bad_name.empty() ? "" : suggest(bad_name, access_log_field_names());
    w.error(n, b.at("format") + ": " + error +
                   (hint.empty() ? "" : " (did you mean '${" + hint + "}'?)"));
    return false;
  }
  const bool has_variable = std::any_of(parsed.begin(), parsed.end(), [](const auto& p) {
    return p.field != AccessLogField::literal;
  });
  if (!has_variable) {
    const std::string hint = suggest(v, {"json", "text"});
    w.error(n, b.at("format") + ": expected json, text or a format string with variables " +
                   "such as '${method} ${path} ${status}', got " + quote(v) +
                   (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    return false;
  }
  format = v;
  json = false;
  pieces = std::move(parsed);
  return true;
}

// stdout, stderr, or a file in a directory that exists.
bool load_path(Walker& w, const yaml::Node& map, const Block& b, std::string_view base_dir,
               std::string& out) {
  std::string v;
  if (!w.string_field(map, "path", b, v)) return false;
  if (v == "stdout" || v == "stderr") {
    out = v;
    return true;
  }
  std::string path = resolve_path(base_dir, v);
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    w.error(field(map, "path"), b.at("path") + ": the directory " + quote(dir) +
                                    " does not exist (sluice creates the file, not its directory)");
    return false;
  }
  out = std::move(path);
  return true;
}

// true or false, where a block may stand; false when it is neither.
bool switch_value(Walker& w, const yaml::Node& n, const std::string& what, bool& on) {
  for (std::string_view yes : {"true", "yes", "on"})
    if (n.Scalar() == yes) return on = true, true;
  for (std::string_view no : {"false", "no", "off"})
    if (n.Scalar() == no) return on = false, true;
  w.error(n, what + ": expected a map of settings (path, format, sample, errors), true or " +
                 "false, got " + quote(n.Scalar()) + " (a file is written {path: FILE})");
  return false;
}

}  // namespace

void load_access_log(Walker& w, const yaml::Node& n, std::string_view base_dir,
                     std::optional<AccessLogSettings>& out) {
  const Block b{"", "access_log"};
  if (n.IsScalar()) {  // true: the defaults; false: none
    bool on = false;
    if (switch_value(w, n, b.label(), on) && on) out.emplace();
    return;
  }
  if (!w.map_with_keys(n, b, {"path", "format", "sample", "errors"})) return;
  AccessLogSettings s;
  load_path(w, n, b, base_dir, s.path);
  load_format(w, n, b, s.format, s.json, s.pieces);
  std::optional<double> sample;
  if (load_sample(w, n, b, sample)) s.sample = *sample;
  w.choice_field(n, "errors", b, kErrors, s.errors);
  out = std::move(s);
}

void load_listener_access_log(Walker& w, const yaml::Node& n, const Block& b,
                              std::string_view base_dir, ListenerAccessLog& out) {
  if (n.IsScalar()) {  // false: off here; true: the top level's
    switch_value(w, n, b.label(), out.enabled);
    return;
  }
  if (!w.map_with_keys(n, b, {"path", "format", "sample", "errors"})) return;
  std::string path;
  if (load_path(w, n, b, base_dir, path)) out.path = std::move(path);
  std::string format;
  bool json = true;
  if (load_format(w, n, b, format, json, out.pieces)) {
    out.format = std::move(format);
    out.json = json;
  }
  load_sample(w, n, b, out.sample);
  AccessLogErrors errors = AccessLogErrors::always;
  if (w.choice_field(n, "errors", b, kErrors, errors)) out.errors = errors;
}

std::optional<AccessLogSettings> access_log_of(const Config& c, const Listener& l) {
  if (l.protocol != Protocol::http) return std::nullopt;  // tcp tunnels carry no requests
  const bool overridden = l.access_log.has_value();
  if (overridden && !l.access_log->enabled) return std::nullopt;
  if (!c.access_log && !overridden) return std::nullopt;
  AccessLogSettings s = c.access_log.value_or(AccessLogSettings{});
  if (!overridden) return s;
  const ListenerAccessLog& o = *l.access_log;
  if (o.path) s.path = *o.path;
  if (o.format) {
    s.format = *o.format;
    s.json = o.json.value_or(true);
    s.pieces = o.pieces;
  }
  if (o.sample) s.sample = *o.sample;
  if (o.errors) s.errors = *o.errors;
  return s;
}

}  // namespace sluice::config
