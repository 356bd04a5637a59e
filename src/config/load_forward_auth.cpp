// The 'forward_auth' middleware (docs/middlewares/forward_auth.md).

#include <array>
#include <fstream>
#include <sstream>

#include "config/address.h"
#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// Fields the proxy states itself (RFC 9110 §7.6.1 hop-by-hop, RFC 9112 §6
// framing, Host) or that sluice writes from what it knows of the client
// (X-Forwarded-*): an auth server's answer may not set them on the
// forwarded request.
bool reserved_for_request(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "te",   "trailer",        "proxy-connection"};
  for (std::string_view r : kReserved) {
    if (iequals(name, r)) return true;
  }
  return name.size() >= 12 && iequals(name.substr(0, 12), "x-forwarded-");
}

// "http://host[:port][/path]" or "https://...". False with `why` set.
bool parse_auth_address(const std::string& text, ForwardAuth& out, std::string& why) {
  std::string_view rest = text;
  if (rest.starts_with("http://")) {
    out.https = false;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    out.https = true;
    rest.remove_prefix(8);
  } else {
    why = "expected http://host[:port]/path or https://...";
    return false;
  }
  const std::size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    why = "user information in the address is not supported (send credentials another way)";
    return false;
  }
  if (!path.empty() && path.front() != '/') {
    // "http://host?x" is "http://host/?x" (RFC 9112 §3.2.1).
    if (path.front() == '#') path = "";
  }
  if (const std::size_t hash = path.find('#'); hash != std::string_view::npos) {
    path = path.substr(0, hash);  // a fragment is never sent (RFC 9110 §4.2.5)
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      why = "the path may not hold white space or control characters";
      return false;
    }
  }
  const bool bracketed = authority.starts_with("[");
  const bool has_port = bracketed ? authority.find("]:") != std::string_view::npos
                                  : authority.find(':') != std::string_view::npos;
  std::string host_port(authority);
  if (!has_port) host_port += out.https ? ":443" : ":80";
  HostPort hp;
  if (authority.empty() || !parse_address(host_port, AddressUse::server, hp, why)) {
    if (authority.empty()) why = "no host";
    return false;
  }
  out.host = hp.host;
  out.port = hp.port;
  out.path = path.empty() ? "/" : path.front() == '?' ? "/" + std::string(path) : std::string(path);
  return true;
}

void load_tls_block(Walker& w, const yaml::Node& t, const Block& tb, std::string_view base_dir,
                    ForwardAuthTls& tls, std::string& fingerprint) {
  if (!w.map_with_keys(t, tb, {"verify", "ca", "sni"})) return;
  w.bool_field(t, "verify", tb, tls.verify);
  std::string ca;
  if (w.string_field(t, "ca", tb, ca)) {
    tls.ca = resolve_path(base_dir, ca);
    std::ifstream in(tls.ca, std::ios::binary);
    if (!in) {
      w.error(field(t, "ca"), tb.at("ca") + ": cannot read " + tls.ca);
    } else {
      // A changed CA file is a changed definition: a reload builds it anew.
      std::ostringstream content;
      content << in.rdbuf();
      fingerprint += "\nca:" + content.str();
    }
    if (!tls.verify) w.warning(field(t, "ca"), tb.at("ca") + ": not used, since verify is false");
  }
  std::optional<std::string> sni;
  if (w.opt_string(t, "sni", tb, sni)) {
    if (!valid_host_name(*sni)) {
      w.error(field(t, "sni"), tb.at("sni") + ": " + quote(*sni) + " is not a host name");
    } else {
      tls.sni = sni;
    }
  }
}

// A list of field names; with `patterns`, a name may end in '*' (a prefix).
void load_names(Walker& w, const yaml::Node& n, std::string_view key, const Block& b, bool patterns,
                std::vector<std::string>& out) {
  std::vector<yaml::Node> nodes;
  std::vector<std::string> names;
  if (!w.string_list(n, key, b, names, nullptr, &nodes)) return;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string_view name = names[i];
    const bool prefix = patterns && name.ends_with('*');
    if (prefix) name.remove_suffix(1);
    if (!is_token(name) && !(prefix && name.empty())) {
      w.error(nodes[i], b.at(key) + ": " + quote(names[i]) + " is not a valid header field name" +
                            (patterns ? " (or a prefix ending in '*')" : ""));
      continue;
    }
    if (patterns && !prefix && reserved_for_request(name)) {
      w.error(nodes[i], b.at(key) + ": " + quote(names[i]) +
                            " is stated by the proxy itself (framing, Host, a hop-by-hop or an "
                            "X-Forwarded- field) and cannot be copied");
      continue;
    }
    if (prefix && name.empty()) {
      w.error(nodes[i], b.at(key) +
                            ": '*' would copy every field of the auth server's answer; "
                            "name them, or give a prefix such as \"X-Auth-*\"");
      continue;
    }
    out.push_back(names[i]);
  }
}

void load_cache(Walker& w, const yaml::Node& c, const Block& cb, ForwardAuthCache& cache) {
  if (!w.map_with_keys(c, cb, {"key", "allow_ttl", "deny_ttl", "max_entries"})) return;
  if (const yaml::Node k = field(c, "key"); k.IsDefined()) {
    cache.key.clear();
    std::vector<yaml::Node> nodes;
    std::vector<std::string> items;
    if (w.string_list(c, "key", cb, items, nullptr, &nodes)) {
      for (std::size_t i = 0; i < items.size(); ++i) {
        // '$' is a token character, but no field is named so: "$path" is
        // a variable sluice does not have, not a field.
        if (items[i] == "$method" || items[i] == "$uri" ||
            (is_token(items[i]) && items[i].front() != '$')) {
          cache.key.push_back(items[i]);
        } else {
          w.error(nodes[i], cb.at("key") + ": " + quote(items[i]) +
                                " is neither a header field name nor $method or $uri");
        }
      }
      if (items.empty()) {
        w.error(k, cb.at("key") +
                       ": empty: every user would share one decision; name the "
                       "fields that tell users apart (Cookie, Authorization)");
      }
    }
  }
  w.duration_field(c, "allow_ttl", cb, cache.allow_ttl, true);
  w.duration_field(c, "deny_ttl", cb, cache.deny_ttl, true);
  w.int_field(c, "max_entries", cb, 1, 10'000'000, cache.max_entries);
}

}  // namespace

void load_forward_auth(Walker& w, const yaml::Node& n, const Block& b, std::string_view base_dir,
                       ForwardAuth& out, std::string& fingerprint) {
  if (!w.map_with_keys(
          n, b,
          {"address", "tls", "request_headers", "copy_headers", "copy_headers_regex", "timeout",
           "on_error", "max_idle", "max_response_body", "forward_body", "cache"})) {
    return;
  }
  if (w.string_field(n, "address", b, out.address, !w.suggested(n, "address"))) {
    std::string why;
    if (!parse_auth_address(out.address, out, why)) {
      w.error(field(n, "address"), b.at("address") + ": " + quote(out.address) + ": " + why);
    }
  }
  if (const yaml::Node t = field(n, "tls"); t.IsDefined()) {
    ForwardAuthTls tls;
    load_tls_block(w, t, b.child("tls"), base_dir, tls, fingerprint);
    if (!out.https && !out.address.empty()) {
      w.error(t, b.at("tls") + ": the address is http://; use https:// to speak TLS");
    }
    out.tls = tls;
  } else if (out.https) {
    out.tls = ForwardAuthTls{};
  }
  if (field(n, "request_headers").IsDefined()) {
    out.request_headers.emplace();
    load_names(w, n, "request_headers", b, false, *out.request_headers);
  }
  load_names(w, n, "copy_headers", b, true, out.copy_headers);
  // Compiled (and refused when RE2 cannot) where the middleware is built.
  w.string_field(n, "copy_headers_regex", b, out.copy_headers_regex);
  w.duration_field(n, "timeout", b, out.timeout);
  static constexpr std::array<Choice<ForwardAuthOnError>, 2> kOnError{{
      {"deny", ForwardAuthOnError::deny},
      {"allow", ForwardAuthOnError::allow},
  }};
  w.choice_field(n, "on_error", b, kOnError, out.on_error);
  w.int_field(n, "max_idle", b, 0, 100'000, out.max_idle);
  if (field(n, "max_response_body").IsDefined()) {
    std::uint64_t max = 0;
    if (w.size_field(n, "max_response_body", b, max)) {
      if (max > 16 * 1024 * 1024) {
        w.error(field(n, "max_response_body"),
                b.at("max_response_body") + ": at most 16MiB (it is held in memory)");
      } else {
        out.max_response_body = max;
      }
    }
  }
  if (const yaml::Node f = field(n, "forward_body"); f.IsDefined()) {
    const Block fb = b.child("forward_body");
    if (w.map_with_keys(f, fb, {"max"})) {
      std::uint64_t max = 64 * 1024;
      if (field(f, "max").IsDefined()) w.size_field(f, "max", fb, max);
      if (max == 0 || max > 16 * 1024 * 1024) {
        w.error(field(f, "max"), fb.at("max") + ": from 1 byte to 16MiB (it is held in memory)");
      } else {
        out.forward_body_max = max;
      }
    }
  }
  if (const yaml::Node c = field(n, "cache"); c.IsDefined()) {
    ForwardAuthCache cache;
    load_cache(w, c, b.child("cache"), cache);
    if (out.forward_body_max > 0) {
      w.error(c, b.at("cache") +
                     ": cannot be used with forward_body: the auth server decides on "
                     "the body, which the cache key does not hold");
    }
    out.cache = std::move(cache);
  }
}

}  // namespace sluice::config
