// The top of the YAML walk: reads the text, refuses what yaml-cpp cannot be
// trusted with, and hands each top-level block to its loader (one file each,
// declared in block_loaders.h), which checks its keys (unknown ones are
// errors with a suggestion), converts each value with a message naming what
// was expected, and keeps going so that one run reports every error in the
// file. Checks that need the whole model (names, cross references) are in
// validate.cpp.
#include "config/loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

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

void load_root(Walker& w, const YAML::Node& root, std::string_view base_dir, Config& c) {
  const Block top{"", ""};
  if (!w.map_with_keys(
          root, top,
          {"workers", "admin", "listeners", "routes", "backends", "forwarded", "shutdown", "log",
           "watch", "middlewares", "request_id", "tracing", "access_log", "metrics", "provider"})) {
    return;
  }
  if (const YAML::Node n = field(root, "workers"); n.IsDefined()) load_workers(w, n, c.workers);
  if (const YAML::Node a = field(root, "admin"); a.IsDefined()) {
    Admin admin;
    if (load_admin(w, a, base_dir, admin)) c.admin = std::move(admin);
  }
  if (const YAML::Node l = field(root, "listeners"); !l.IsDefined()) {
    w.missing(root, top, "listeners");
  } else {
    load_listeners(w, l, base_dir, c.listeners);
  }
  if (const YAML::Node r = field(root, "routes"); r.IsDefined()) load_routes(w, r, c.routes);
  if (const YAML::Node b = field(root, "backends"); b.IsDefined())
    load_backends(w, b, base_dir, c.backends);
  if (const YAML::Node m = field(root, "middlewares"); m.IsDefined())
    load_middlewares(w, m, base_dir, c.middlewares);
  if (const YAML::Node f = field(root, "forwarded"); f.IsDefined()) {
    load_forwarded(w, f, c.forwarded);
  }
  if (const YAML::Node s = field(root, "shutdown"); s.IsDefined()) load_shutdown(w, s, c.shutdown);
  if (const YAML::Node l = field(root, "log"); l.IsDefined()) load_log(w, l, c.log);
  if (const YAML::Node a = field(root, "access_log"); a.IsDefined())
    load_access_log(w, a, base_dir, c.access_log);
  if (c.log.access && !c.access_log) c.access_log.emplace();  // the older spelling
  if (const YAML::Node r = field(root, "request_id"); r.IsDefined())
    load_request_id(w, r, c.request_id);
  if (const YAML::Node t = field(root, "tracing"); t.IsDefined())
    load_tracing(w, t, c.tracing.emplace());
  if (const YAML::Node m = field(root, "metrics"); m.IsDefined()) load_metrics(w, m, c.metrics);
  w.bool_field(root, "watch", top, c.watch);
  if (const YAML::Node p = field(root, "provider"); p.IsDefined())
    load_provider(w, p, base_dir, c.provider);
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

// Parses the first document of `text` into `root`. False, with the reason
// reported, when the text is not YAML that can be walked.
bool parse_first_document(Walker& w, const std::string& text, YAML::Node& root) {
  try {
    const auto extra = may_hold_more_documents(text) ? check_documents(text) : Documents{};
    if (extra.stuck) {
      const char c = extra.pos < text.size() ? text[extra.pos] : ' ';
      w.report(extra.at, Severity::error,
               "invalid YAML: unexpected " + quote(std::string_view(&c, 1)));
      return false;
    }
    if (extra.count > 1) {
      w.report(extra.at, Severity::error,
               "expected a single YAML document, found another one here");
    }
    root = YAML::Load(text);  // the first document only
    return true;
  } catch (const YAML::DeepRecursion& e) {
    w.report({e.mark.line + 1, e.mark.column + 1}, Severity::error,
             "invalid YAML: nested too deeply (" + std::to_string(e.depth()) + " levels)");
    return false;
  } catch (const YAML::Exception& e) {
    SourceLocation at{e.mark.line + 1, e.mark.column + 1};
    if (e.mark.is_null()) at = {1, 1};
    w.report(at, Severity::error, "invalid YAML: " + e.msg);
    return false;
  }
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
    YAML::Node root;
    // Unsorted: a parse error comes at most after the "another document" one.
    if (!parse_first_document(w, text, root)) return result;
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
