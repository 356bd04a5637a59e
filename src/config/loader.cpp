// The top of the YAML walk: reads the text's one document (yaml_tree.h),
// and hands each top-level block to its loader (one file each,
// declared in block_loaders.h), which checks its keys (unknown ones are
// errors with a suggestion), converts each value with a message naming what
// was expected, and keeps going so that one run reports every error in the
// file. Checks that need the whole model (names, cross references) are in
// validate.cpp.
#include "config/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/block_loaders.h"
#include "config/suggest.h"
#include "config/validate.h"

namespace sluice::config {

namespace {

void load_root(Walker& w, const yaml::Node& root, std::string_view base_dir, Config& c) {
  const Block top{"", ""};
  if (!w.map_with_keys(root, top,
                       {"workers", "busy_poll", "admin", "listeners", "routes", "backends",
                        "forwarded", "shutdown", "log", "watch", "middlewares", "request_id",
                        "tracing", "access_log", "metrics", "provider"})) {
    return;
  }
  if (const yaml::Node n = field(root, "workers"); n.IsDefined()) load_workers(w, n, c.workers);
  if (const yaml::Node n = field(root, "busy_poll"); n.IsDefined())
    load_busy_poll(w, n, c.busy_poll);
  if (const yaml::Node a = field(root, "admin"); a.IsDefined()) {
    Admin admin;
    if (load_admin(w, a, base_dir, admin)) c.admin = std::move(admin);
  }
  if (const yaml::Node l = field(root, "listeners"); !l.IsDefined()) {
    w.missing(root, top, "listeners");
  } else {
    load_listeners(w, l, base_dir, c.listeners);
  }
  if (const yaml::Node r = field(root, "routes"); r.IsDefined()) load_routes(w, r, c.routes);
  if (const yaml::Node b = field(root, "backends"); b.IsDefined())
    load_backends(w, b, base_dir, c.backends);
  if (const yaml::Node m = field(root, "middlewares"); m.IsDefined())
    load_middlewares(w, m, base_dir, c.middlewares);
  if (const yaml::Node f = field(root, "forwarded"); f.IsDefined()) {
    load_forwarded(w, f, c.forwarded);
  }
  if (const yaml::Node s = field(root, "shutdown"); s.IsDefined()) load_shutdown(w, s, c.shutdown);
  if (const yaml::Node l = field(root, "log"); l.IsDefined()) load_log(w, l, c.log);
  if (const yaml::Node a = field(root, "access_log"); a.IsDefined())
    load_access_log(w, a, base_dir, c.access_log);
  if (c.log.access && !c.access_log) c.access_log.emplace();  // the older spelling
  if (const yaml::Node r = field(root, "request_id"); r.IsDefined())
    load_request_id(w, r, c.request_id);
  if (const yaml::Node t = field(root, "tracing"); t.IsDefined())
    load_tracing(w, t, c.tracing.emplace());
  if (const yaml::Node m = field(root, "metrics"); m.IsDefined()) load_metrics(w, m, c.metrics);
  w.bool_field(root, "watch", top, c.watch);
  if (const yaml::Node p = field(root, "provider"); p.IsDefined())
    load_provider(w, p, base_dir, c.provider);
}

bool has_error(const std::vector<Diagnostic>& d) {
  return std::any_of(d.begin(), d.end(),
                     [](const Diagnostic& x) { return x.severity == Severity::error; });
}

// Parses the first document of `text` into `doc`. False, with the reason
// reported, when the text is not YAML that can be walked. A second document
// is an error too, but the first is still walked for what else it holds.
bool parse_first_document(Walker& w, std::string_view text, yaml::Document& doc) {
  yaml::parse(text, doc);
  const auto at = [](const yaml::Mark& m) { return SourceLocation{m.line + 1, m.column + 1}; };
  if (!doc.error.empty()) {
    w.report(at(doc.error_at), Severity::error, "invalid YAML: " + doc.error);
    return false;
  }
  if (!doc.another_document.is_null()) {
    w.report(at(doc.another_document), Severity::error,
             "expected a single YAML document, found another one here");
  }
  return true;
}

// File order, whichever check found them; stable, so that messages about
// one place keep the order they were found in.
void sort_by_position(std::vector<Diagnostic>& diagnostics) {
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
}

}  // namespace

LoadResult load_string(std::string_view yaml, std::string_view file_name,
                       std::string_view base_dir) {
  LoadResult result;
  auto config = std::make_shared<Config>();
  config->file = std::string(file_name);
  Walker w(config->file, result.diagnostics);
  std::string text(yaml);
  try {
    yaml::Document doc;
    if (!parse_first_document(w, text, doc)) return result;
    const yaml::Node root = doc.root;
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
  sort_by_position(result.diagnostics);
  if (has_error(result.diagnostics)) return result;
  config->source = std::move(text);
  result.config = std::move(config);
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
