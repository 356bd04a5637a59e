// The 'access' middleware (docs/middlewares/access.md): allow and deny
// networks, trusted proxies, basic authentication from an htpasswd file
// (read here, at load) and a request body limit.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

// An htpasswd file larger than this is not a list of users.
constexpr std::size_t kMaxHtpasswdBytes = 16 * 1024 * 1024;

void load_networks(Walker& w, const yaml::Node& n, std::string_view key, const Block& b,
                   std::vector<std::string>& out) {
  std::vector<yaml::Node> nodes;
  const std::size_t before = out.size();
  if (!w.string_list(n, key, b, out, nullptr, &nodes)) return;
  for (std::size_t i = 0; i + before < out.size() && i < nodes.size(); ++i) {
    if (!valid_cidr(out[before + i])) {
      w.error(nodes[i], b.at(key) +
                            ": expected a network such as 10.0.0.0/8, 2001:db8::/32 or "
                            "an address, got " +
                            quote(out[before + i]));
    }
  }
}

bool crypt_base64(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
  });
}

// "$2y$10$" and 53 characters: 22 of salt, 31 of hash.
bool valid_bcrypt(std::string_view h) {
  if (h.size() != 60 || h[3] != '$' || h[6] != '$') return false;
  if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9') return false;
  const int cost = (h[4] - '0') * 10 + (h[5] - '0');
  return cost >= 4 && cost <= 31 && crypt_base64(h.substr(7));
}

// "$5$" or "$6$", an optional "rounds=N$", a salt of at most 16 characters,
// '$' and the hash: 43 characters for SHA-256, 86 for SHA-512.
bool valid_sha_crypt(std::string_view h) {
  const std::size_t hash_chars = h[1] == '5' ? 43 : 86;
  std::string_view rest = h.substr(3);
  if (rest.starts_with("rounds=")) {
    const auto end = rest.find('$');
    if (end == std::string_view::npos || end == 7) return false;
    const std::string_view digits = rest.substr(7, end - 7);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    rest.remove_prefix(end + 1);
  }
  const auto dollar = rest.find('$');
  if (dollar == std::string_view::npos || dollar > 16) return false;
  const std::string_view salt = rest.substr(0, dollar);
  const std::string_view hash = rest.substr(dollar + 1);
  return salt.find_first_of(":\n") == std::string_view::npos && hash.size() == hash_chars &&
         crypt_base64(hash);
}

// Why `hash` is refused; empty when it is a scheme we check. The weak
// schemes are refused rather than checked: a stolen file of MD5 or SHA-1
// hashes gives its passwords away in minutes.
std::string refused_scheme(std::string_view hash) {
  if (hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
    return valid_bcrypt(hash) ? "" : "a malformed bcrypt hash";
  }
  if (hash.starts_with("$5$") || hash.starts_with("$6$")) {
    return valid_sha_crypt(hash) ? "" : "a malformed SHA-crypt hash";
  }
  if (hash.starts_with("$apr1$")) return "an MD5 hash ($apr1$), which is not accepted";
  if (hash.starts_with("$1$")) return "an MD5-crypt hash ($1$), which is not accepted";
  if (hash.starts_with("{SHA}")) return "a SHA-1 hash ({SHA}), which is not accepted";
  if (hash.size() == 13 && crypt_base64(hash)) {
    return "a DES crypt hash, which is not accepted";
  }
  return "not a hash sluice accepts (a plain-text password?)";
}

// Reads `path` into `users`; false with `why` ("users.htpasswd line 3:
// ...") at the first problem.
bool read_htpasswd(const std::string& path, std::string& content, std::vector<HtpasswdUser>& users,
                   std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    why = "cannot read " + path;
    return false;
  }
  if (content.size() > kMaxHtpasswdBytes) {
    why = path + " is larger than 16 MiB";
    return false;
  }
  std::set<std::string, std::less<>> seen;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < content.size()) {
    ++line_no;
    const auto end = std::min(content.find('\n', start), content.size());
    std::string_view line(content.data() + start, end - start);
    start = end + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    // Apache's tools skip blank lines and comments too.
    if (line.find_first_not_of(" \t") == std::string_view::npos || line.front() == '#') continue;
    const std::string at = path + " line " + std::to_string(line_no) + ": ";
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      why = at + "expected user:hash";
      return false;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view hash = line.substr(colon + 1);
    if (const std::string r = refused_scheme(hash); !r.empty()) {
      why = at + "user " + quote(name) + " has " + r +
            "; make bcrypt hashes with `htpasswd -B` or SHA-512 crypt ones with `openssl "
            "passwd -6`";
      return false;
    }
    if (!seen.insert(std::string(name)).second) {
      why = at + "user " + quote(name) + " appears twice";
      return false;
    }
    users.push_back({std::string(name), std::string(hash)});
  }
  if (users.empty()) {
    why = path + " holds no users";
    return false;
  }
  return true;
}

// A realm goes into a quoted-string (RFC 9110 §5.6.4): no control
// characters; quotes and backslashes are escaped when it is sent.
bool valid_realm(std::string_view realm) {
  return std::none_of(realm.begin(), realm.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

void load_basic_auth(Walker& w, const yaml::Node& n, const Block& b, std::string_view base_dir,
                     BasicAuth& out, std::string& fingerprint) {
  if (!w.map_with_keys(n, b, {"htpasswd", "realm", "strip_authorization"})) return;
  if (w.string_field(n, "realm", b, out.realm) && (out.realm.empty() || !valid_realm(out.realm))) {
    w.error(field(n, "realm"), b.at("realm") +
                                   ": expected a non-empty name without control "
                                   "characters, got " +
                                   quote(out.realm));
  }
  w.bool_field(n, "strip_authorization", b, out.strip_authorization);
  if (!w.string_field(n, "htpasswd", b, out.htpasswd, true)) return;
  std::string content;
  std::string why;
  if (!read_htpasswd(resolve_path(base_dir, out.htpasswd), content, out.users, why)) {
    w.error(field(n, "htpasswd"), b.at("htpasswd") + ": " + why);
    return;
  }
  // An edited file under an unchanged definition is a new definition: the
  // middleware (and its cache of checked passwords) is built again.
  fingerprint += "\nhtpasswd ";
  fingerprint += out.htpasswd;
  fingerprint += '\n';
  fingerprint += content;
}

}  // namespace

void load_access(Walker& w, const yaml::Node& n, const Block& b, std::string_view base_dir,
                 Access& out, std::string& fingerprint) {
  if (!w.map_with_keys(n, b, {"allow", "deny", "trusted_proxies", "basic_auth", "max_body_size"})) {
    return;
  }
  load_networks(w, n, "allow", b, out.allow);
  load_networks(w, n, "deny", b, out.deny);
  load_networks(w, n, "trusted_proxies", b, out.trusted_proxies);
  if (const yaml::Node a = field(n, "allow"); a.IsSequence() && a.size() == 0) {
    w.error(a, b.at("allow") +
                   ": an empty list would refuse every client; leave 'allow' out to "
                   "let every client not denied through");
  }
  if (const yaml::Node t = field(n, "trusted_proxies");
      t.IsDefined() && !field(n, "allow").IsDefined() && !field(n, "deny").IsDefined()) {
    w.warning(t, b.at("trusted_proxies") + ": has no effect without 'allow' or 'deny'");
  }
  if (const yaml::Node a = field(n, "basic_auth"); a.IsDefined()) {
    load_basic_auth(w, a, b.child("basic_auth"), base_dir, out.basic_auth.emplace(), fingerprint);
  }
  if (w.size_field(n, "max_body_size", b, out.max_body_bytes) && out.max_body_bytes == 0) {
    w.error(field(n, "max_body_size"),
            b.at("max_body_size") + ": must be at least 1 byte; leave it out for no limit");
  }
  if (n.size() == 0 || (n.size() == 1 && field(n, "trusted_proxies").IsDefined())) {
    w.error(n, b.label() +
                   ": checks nothing; give at least one of allow, deny, basic_auth, max_body_size");
  }
}

}  // namespace sluice::config
