// The 'tls' blocks (docs/config.md, "tls" under Listeners and Backends) and
// a tcp listener's 'sni_routes'. Certificate files are not opened here: the
// TLS layer parses them when it builds a snapshot. A path that cannot be
// read is still a configuration error with its place in the file, since
// that is the place to fix it.
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <map>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

constexpr std::array<Choice<ClientAuthMode>, 2> kClientAuthModes{
    {{"required", ClientAuthMode::required}, {"optional", ClientAuthMode::optional}}};

// hstspreload.org refuses a domain whose max-age is under a year.
constexpr Duration kPreloadMinMaxAge{365LL * 24 * 3600 * 1000};
constexpr std::uint64_t kMaxSessionCache = 10'000'000;
// RFC 7301 §3.1: a protocol name is 1 to 255 bytes.
constexpr std::size_t kMaxAlpnBytes = 255;

enum class PathKind { file, directory };

// Why `path` cannot be used as `kind`, or "" when it can: it must exist,
// be of that kind and be readable (a directory also searchable).
std::string path_problem(const std::string& path, PathKind kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot read " + path + ": " + std::strerror(errno);
  if (kind == PathKind::directory && !S_ISDIR(st.st_mode)) return path + " is not a directory";
  if (kind == PathKind::file && S_ISDIR(st.st_mode)) {
    return path + " is a directory, expected a PEM file";
  }
  const int mode = kind == PathKind::directory ? R_OK | X_OK : R_OK;
  if (::access(path.c_str(), mode) != 0) return "cannot read " + path + ": " + std::strerror(errno);
  return "";
}

// map[key] as a path resolved against `base_dir`, checked for `kind`. True
// when it was read (`out` holds it even if it cannot be used, to keep the
// block's shape for later checks).
bool path_field(Walker& w, const yaml::Node& map, std::string_view key, const Block& b,
                std::string_view base_dir, PathKind kind, std::string& out, bool required = false) {
  std::string written;
  if (!w.string_field(map, key, b, written, required)) return false;
  out = resolve_path(base_dir, std::move(written));
  if (const std::string why = path_problem(out, kind); !why.empty()) {
    w.error(field(map, key), b.at(key) + ": " + why);
  }
  return true;
}

// A string setting passed to OpenSSL as written; its syntax is checked
// there, when the TLS layer builds the listener's context.
void openssl_string(Walker& w, const yaml::Node& map, std::string_view key, const Block& b,
                    std::string& out) {
  w.string_field(map, key, b, out);
}

// A protocol name as ALPN carries it: registered ones ("http/1.1", "h2")
// are visible ASCII, so anything else is more likely a typo than a need.
bool valid_alpn_name(std::string_view p) {
  return !p.empty() && p.size() <= kMaxAlpnBytes && std::all_of(p.begin(), p.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

// A non-empty list of distinct protocol names, preferred first.
void load_alpn(Walker& w, const yaml::Node& map, const Block& b, std::vector<std::string>& alpn) {
  const yaml::Node n = field(map, "alpn");
  if (!n.IsDefined()) return;
  if (n.IsSequence() && n.size() == 0) {
    w.error(n, b.at("alpn") +
                   ": expected a non-empty list of protocol names such as http/1.1 (leave alpn "
                   "out for the default)");
    return;
  }
  std::vector<std::string> names;
  std::vector<yaml::Node> nodes;
  w.string_list(map, "alpn", b, names, nullptr, &nodes);
  assert(nodes.size() == names.size());  // one node per item read
  std::map<std::string, SourceLocation> seen;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!valid_alpn_name(names[i])) {
      w.error(nodes[i], b.at("alpn") + ": " + quote(names[i]) +
                            " is not a protocol name: 1 to 255 visible ASCII characters, "
                            "without spaces (RFC 7301 §3.1)");
      continue;
    }
    if (auto [it, fresh] = seen.emplace(names[i], where(nodes[i])); !fresh) {
      w.error(nodes[i], b.at("alpn") + ": " + quote(names[i]) + " appears twice (first on line " +
                            std::to_string(it->second.line) + ")");
      continue;
    }
    alpn.push_back(names[i]);
  }
}

// ------------------------------------------------------------- listeners

// One entry of 'certificates': {cert, key} or {directory}. False when it
// is not a map, and there is no entry to keep.
bool load_certificate(Walker& w, const yaml::Node& c, const Block& cb, std::string_view base_dir,
                      TlsCertificate& tc) {
  if (!w.map_with_keys(c, cb, {"cert", "key", "directory"})) return false;
  tc.where = where(c);
  const bool pair = field(c, "cert").IsDefined() || field(c, "key").IsDefined();
  const bool directory = field(c, "directory").IsDefined();
  if (pair && directory) {
    w.error(c, cb.label() +
                   ": give either cert and key, or directory, not both (a directory's files "
                   "each hold a chain and its key)");
    return true;
  }
  if (directory) {
    path_field(w, c, "directory", cb, base_dir, PathKind::directory, tc.directory);
  } else if (pair) {
    path_field(w, c, "cert", cb, base_dir, PathKind::file, tc.cert, true);
    path_field(w, c, "key", cb, base_dir, PathKind::file, tc.key, true);
  } else if (!w.suggested(c, "cert") && !w.suggested(c, "key") && !w.suggested(c, "directory")) {
    w.error(c, cb.label() + ": expected {cert, key} or {directory}, got " +
                   (c.size() == 0 ? std::string("an empty map") : describe(c)));
  }
  return true;
}

void load_certificates(Walker& w, const yaml::Node& tls, const Block& tb, std::string_view base_dir,
                       std::vector<TlsCertificate>& certificates) {
  const yaml::Node certs = field(tls, "certificates");
  if (!certs.IsDefined()) {
    w.missing(tls, tb, "certificates");
    return;
  }
  if (!certs.IsSequence() || certs.size() == 0) {
    w.error(certs, tb.at("certificates") +
                       ": expected a non-empty list of {cert, key} or {directory}, got " +
                       describe(certs));
    return;
  }
  const Block cb = tb.child("certificates");
  for (const auto& c : certs) {
    TlsCertificate tc;
    if (load_certificate(w, c, cb, base_dir, tc)) certificates.push_back(std::move(tc));
  }
}

// "1.2" and "1.3"; YAML gives an unquoted 1.2 as the same text.
void load_min_version(Walker& w, const yaml::Node& tls, const Block& tb, TlsVersion& version) {
  const yaml::Node n = field(tls, "min_version");
  std::string v;
  if (!n.IsDefined() || !w.scalar(n, tb.at("min_version"), v)) return;
  if (v == "1.2") {
    version = TlsVersion::tls1_2;
  } else if (v == "1.3") {
    version = TlsVersion::tls1_3;
  } else if (v == "1.0" || v == "1.1") {
    w.error(n, tb.at("min_version") + ": TLS " + v +
                   " is not offered: sluice speaks TLS 1.2 and 1.3 only (1.0 and 1.1 are "
                   "deprecated, RFC 8996), so expected 1.2 or 1.3");
  } else {
    w.error(n, tb.at("min_version") + ": expected 1.2 or 1.3, got " + quote(v));
  }
}

bool load_client_auth(Walker& w, const yaml::Node& n, const Block& cb, Protocol protocol,
                      std::string_view base_dir, ClientAuth& ca) {
  if (!w.map_with_keys(n, cb, {"ca", "mode", "header"})) return false;
  if (path_field(w, n, "ca", cb, base_dir, PathKind::file, ca.ca, true)) {
    ca.ca_where = where(field(n, "ca"));
  }
  w.choice_field(n, "mode", cb, kClientAuthModes, ca.mode);
  if (w.string_field(n, "header", cb, ca.header) && !is_token(ca.header)) {
    w.error(field(n, "header"),
            cb.at("header") + ": " + quote(ca.header) + " is not a valid header field name");
  }
  if (protocol == Protocol::tcp && field(n, "header").IsDefined()) {
    w.warning(field(n, "header"), cb.at("header") + ": ignored on a tcp listener (no requests)");
  }
  return true;
}

// RFC 6797; preload as hstspreload.org accepts it.
bool load_hsts(Walker& w, const yaml::Node& n, const Block& hb, Hsts& hsts) {
  if (!w.map_with_keys(n, hb, {"max_age", "include_subdomains", "preload"})) return false;
  // 0 is meaningful: it tells browsers to forget the policy (RFC 6797 §6.1.1).
  w.duration_field(n, "max_age", hb, hsts.max_age, true);
  w.bool_field(n, "include_subdomains", hb, hsts.include_subdomains);
  w.bool_field(n, "preload", hb, hsts.preload);
  if (hsts.preload) {
    const yaml::Node p = field(n, "preload");
    if (!hsts.include_subdomains) {
      w.error(p, hb.at("preload") +
                     ": requires include_subdomains: true (hstspreload.org refuses a policy "
                     "without it)");
    }
    if (hsts.max_age < kPreloadMinMaxAge) {
      w.error(p, hb.at("preload") +
                     ": requires max_age of at least 8760h, a year (hstspreload.org "
                     "refuses a shorter policy)");
    }
  }
  return true;
}

// Resumption: tickets, the session cache and how long a session lasts.
void load_sessions(Walker& w, const yaml::Node& tls, const Block& tb, Tls& t) {
  w.bool_field(tls, "session_tickets", tb, t.session_tickets);
  w.int_field(tls, "session_cache_size", tb, 0, static_cast<long long>(kMaxSessionCache),
              t.session_cache_size);
  w.duration_field(tls, "session_timeout", tb, t.session_timeout);
}

// ------------------------------------------------------------ sni_routes

std::string lower(std::string s) {
  for (char& c : s)
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return s;
}

// A name a client may send in SNI: a DNS name, never an address literal
// (RFC 6066 §3), so an IPv4 literal here could never match.
bool valid_sni_name(std::string_view name) {
  if (!valid_host_name(name) || name.back() == '.') return false;
  in_addr v4{};
  return inet_pton(AF_INET, std::string(name).c_str(), &v4) != 1;
}

// "name" or "*.suffix", lower-cased; false when it is neither.
bool normalise_sni_host(std::string& host) {
  host = lower(std::move(host));
  const std::string_view h = host;
  const bool wildcard = h.size() > 2 && h.substr(0, 2) == "*.";
  return valid_sni_name(wildcard ? h.substr(2) : h);
}

bool load_sni_route(Walker& w, const yaml::Node& n, const Block& sb, SniRoute& r) {
  if (!w.map_with_keys(n, sb, {"host", "backend"})) return false;
  bool complete = true;
  if (w.string_field(n, "host", sb, r.host, true)) {
    const yaml::Node h = field(n, "host");
    r.host_where = where(h);
    if (!normalise_sni_host(r.host)) {
      w.error(h, sb.at("host") +
                     ": expected a server name such as db.example.com or *.example.com (a "
                     "'*' only as the whole first label, no port, no address), got " +
                     quote(h.Scalar()));
      complete = false;
    }
  } else {
    complete = false;
  }
  if (w.string_field(n, "backend", sb, r.backend, true)) {
    r.backend_where = where(field(n, "backend"));
  } else {
    complete = false;
  }
  return complete;
}

// ----------------------------------------------------------------- backends

// sni: a name to send and verify; empty sends none.
void load_backend_sni(Walker& w, const yaml::Node& t, const Block& tb,
                      std::optional<std::string>& sni) {
  const yaml::Node n = field(t, "sni");
  std::string v;
  if (!n.IsDefined() || !w.scalar(n, tb.at("sni"), v)) return;
  v = lower(std::move(v));
  if (!v.empty() && !valid_sni_name(v)) {
    w.error(n, tb.at("sni") +
                   ": expected a server name such as api.internal (or \"\" to send none), got " +
                   quote(n.Scalar()) + "; an address is never sent as SNI (RFC 6066 §3)");
    return;
  }
  sni = std::move(v);
}

}  // namespace

std::string resolve_path(std::string_view base_dir, std::string path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
  return std::string(base_dir) + "/" + path;
}

bool load_listener_tls(Walker& w, const yaml::Node& tls, const Block& tb, Protocol protocol,
                       std::string_view base_dir, Tls& t) {
  if (!w.map_with_keys(tls, tb,
                       {"certificates", "min_version", "ciphers", "ciphersuites", "curves", "alpn",
                        "client_auth", "session_tickets", "session_cache_size", "session_timeout",
                        "hsts", "ktls"})) {
    return false;
  }
  t.where = where(tls);
  load_certificates(w, tls, tb, base_dir, t.certificates);
  load_min_version(w, tls, tb, t.min_version);
  openssl_string(w, tls, "ciphers", tb, t.ciphers);
  openssl_string(w, tls, "ciphersuites", tb, t.ciphersuites);
  openssl_string(w, tls, "curves", tb, t.curves);
  load_alpn(w, tls, tb, t.alpn);
  if (const yaml::Node c = field(tls, "client_auth"); c.IsDefined()) {
    ClientAuth ca;
    if (load_client_auth(w, c, tb.child("client_auth"), protocol, base_dir, ca)) t.client_auth = ca;
  }
  load_sessions(w, tls, tb, t);
  if (const yaml::Node h = field(tls, "hsts"); h.IsDefined()) {
    if (protocol == Protocol::tcp) {
      w.warning(h, tb.at("hsts") + ": ignored on a tcp listener (it is an HTTP response field)");
    } else {
      Hsts hsts;
      if (load_hsts(w, h, tb.child("hsts"), hsts)) t.hsts = hsts;
    }
  }
  w.bool_field(tls, "ktls", tb, t.ktls);
  return true;
}

void load_sni_routes(Walker& w, const yaml::Node& n, const Block& sb,
                     std::vector<SniRoute>& routes) {
  if (!n.IsSequence() || n.size() == 0) {
    w.error(n, sb.label() + ": expected a non-empty list of {host, backend}, got " + describe(n));
    return;
  }
  std::map<std::string, SourceLocation> hosts;  // host -> where first routed
  for (const auto& item : n) {
    SniRoute r;
    if (!load_sni_route(w, item, sb, r)) continue;
    if (auto [it, fresh] = hosts.emplace(r.host, r.host_where); !fresh) {
      w.error(field(item, "host"), sb.at("host") + ": " + quote(r.host) +
                                       " is routed twice (first on line " +
                                       std::to_string(it->second.line) + ", column " +
                                       std::to_string(it->second.column) + ")");
      continue;
    }
    routes.push_back(std::move(r));
  }
}

bool load_backend_tls(Walker& w, const yaml::Node& t, const Block& tb, std::string_view base_dir,
                      BackendTls& bt) {
  bt.where = where(t);
  if (t.IsScalar()) {  // 'tls: true' is 'tls: {}'
    bool on = false;
    return w.bool_value(t, tb.label(), on) && on;
  }
  if (!w.map_with_keys(t, tb, {"verify", "ca", "sni", "alpn", "certificate", "key"})) return false;
  w.bool_field(t, "verify", tb, bt.verify);
  path_field(w, t, "ca", tb, base_dir, PathKind::file, bt.ca);
  if (!bt.verify && field(t, "ca").IsDefined()) {
    w.warning(field(t, "ca"), tb.at("ca") + ": not used, since verify is false");
  }
  load_backend_sni(w, t, tb, bt.sni);
  load_alpn(w, t, tb, bt.alpn);
  const bool certificate =
      path_field(w, t, "certificate", tb, base_dir, PathKind::file, bt.certificate);
  const bool key = path_field(w, t, "key", tb, base_dir, PathKind::file, bt.key);
  if (certificate && !key && !w.suggested(t, "key")) {
    w.error(field(t, "certificate"), tb.at("certificate") + ": requires key, its private key");
  } else if (key && !certificate && !w.suggested(t, "certificate")) {
    w.error(field(t, "key"), tb.at("key") + ": requires certificate, the chain it belongs to");
  }
  return true;
}

}  // namespace sluice::config
