// A route's 'reproxy' block (docs/middlewares/reproxy.md) and the targets
// it allows. The allowlist is the SSRF guard: a backend (or whoever got
// into one) names a URL, and sluice fetches only those whose origin and
// path prefix were written here.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// True for a dot segment anywhere in `path` ("/a/../b", "/a/.").
bool has_dot_segment(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const std::string_view seg = path.substr(start, end - start);
    if (seg == "." || seg == "..") return true;
    start = end + 1;
  }
  return false;
}

// "http://host[:port][/prefix]". False with `why` set otherwise. A port is
// never a wildcard: each allowed origin gets its own connection pool when
// the configuration loads, and "any port" would open every service the
// host runs.
bool parse_target(std::string_view text, ReproxyTarget& t, std::string& why) {
  constexpr std::string_view kHttp = "http://";
  if (lower(text.substr(0, 8)) == "https://") {
    why = "https targets are not supported yet; use http:// (a backend on this network)";
    return false;
  }
  if (lower(text.substr(0, kHttp.size())) != kHttp) {
    why = "expected http://host[:port]/path-prefix, got " + quote(text);
    return false;
  }
  std::string_view rest = text.substr(kHttp.size());
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  t.path_prefix = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "unclosed '[' in " + quote(text);
      return false;
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      why = "expected ':' and a port after ']' in " + quote(text);
      return false;
    }
    if (!after.empty()) port = after.substr(1);
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    why = "no host in " + quote(text);
    return false;
  }
  const bool bracketed = !authority.empty() && authority.front() == '[';
  HostPort hp;
  std::string ignored;
  const bool ip_literal =
      parse_address(bracketed ? "[" + std::string(host) + "]:1" : std::string(host) + ":1",
                    AddressUse::server, hp, ignored);
  if (!ip_literal && !valid_host_name(host)) {
    why = "invalid host " + quote(host) + " in " + quote(text);
    return false;
  }
  t.host = lower(host);
  if (port == "*") {
    why = "the port cannot be '*': name each allowed port (each gets a connection pool)";
    return false;
  }
  if (authority.find(':') != std::string_view::npos && !bracketed && port.empty()) {
    why = "empty port in " + quote(text);
    return false;
  }
  if (!port.empty()) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc{} || end != port.data() + port.size() || v == 0 || v > 65535) {
      why = "invalid port " + quote(port) + " in " + quote(text);
      return false;
    }
    t.port = static_cast<std::uint16_t>(v);
  }
  if (t.path_prefix.find_first_of("?#%") != std::string::npos || has_dot_segment(t.path_prefix)) {
    why =
        "the path prefix must be a plain path (no '?', '#', '%' or dot segments) in " + quote(text);
    return false;
  }
  t.text = std::string(text);
  return true;
}

void load_allow(Walker& w, const yaml::Node& n, const Block& b, Reproxy& out) {
  std::vector<std::string> texts;
  std::vector<yaml::Node> nodes;
  if (!w.string_list(n, "allow", b, texts, nullptr, &nodes)) return;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    ReproxyTarget t;
    std::string why;
    if (!parse_target(texts[i], t, why)) {
      w.error(nodes[i], b.at("allow") + ": " + why);
      continue;
    }
    out.allow.push_back(std::move(t));
  }
}

void load_files(Walker& w, const yaml::Node& f, const Block& b, Reproxy& out) {
  const Block fb = b.child("files");
  if (!w.map_with_keys(f, fb, {"root"})) return;
  std::string root;
  if (!w.string_field(f, "root", fb, root, true)) return;
  const yaml::Node at = field(f, "root");
  struct stat st {};
  if (root.front() != '/') {
    w.error(at, fb.at("root") + ": expected an absolute path, got " + quote(root));
  } else if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    w.error(at, fb.at("root") + ": " + quote(root) + " is not a directory");
  } else {
    out.files_root = std::move(root);
  }
}

}  // namespace

void load_reproxy(Walker& w, const yaml::Node& n, const Block& b, Reproxy& out) {
  if (!w.map_with_keys(n, b, {"urls", "accel_redirect", "files", "allow", "check_size"})) return;
  w.bool_field(n, "urls", b, out.urls);
  w.bool_field(n, "accel_redirect", b, out.accel_redirect);
  w.bool_field(n, "check_size", b, out.check_size);
  if (const yaml::Node f = field(n, "files"); f.IsDefined()) load_files(w, f, b, out);
  load_allow(w, n, b, out);
  if (out.urls && out.allow.empty() && !field(n, "allow").IsDefined()) {
    w.error(n, b.label() + ": 'urls: true' needs an 'allow' list of the targets sluice may fetch");
  }
  if (!out.urls && field(n, "allow").IsDefined()) {
    w.warning(field(n, "allow"), b.at("allow") + ": unused without 'urls: true'");
  }
}

}  // namespace sluice::config
