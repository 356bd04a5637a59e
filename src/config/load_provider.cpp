// The 'provider' block (docs/config.md, "provider"): etcd's endpoints,
// prefix, TLS and credentials. The password is read from its file at load,
// as the admin token is, so that a bad file is an error at its line.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/block_loaders.h"
#include "config/loader.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

// "http://host:port" or "https://host:port": the JSON gateway's base URL.
bool valid_endpoint(std::string_view url) {
  std::string_view rest;
  if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (url.substr(0, 8) == "https://") {
    rest = url.substr(8);
  } else {
    return false;
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return false;
  if (rest.find('/') != std::string_view::npos) return false;
  for (char c : rest.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
  }
  return rest.size() - colon - 1 <= 5;
}

// The password: the file's first line, its line break dropped.
bool read_password_file(const std::string& path, std::string& password, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    why = path + " is empty: it must hold the password";
    return false;
  }
  return true;
}

void load_endpoints(Walker& w, const yaml::Node& e, const Block& eb, EtcdProvider& etcd) {
  std::vector<yaml::Node> nodes;
  if (!w.string_list(e, "endpoints", eb, etcd.endpoints, nullptr, &nodes)) return;
  if (etcd.endpoints.empty()) {
    w.error(field(e, "endpoints"), eb.at("endpoints") + ": expected at least one endpoint");
  }
  for (std::size_t i = 0; i < nodes.size() && i < etcd.endpoints.size(); ++i) {
    if (!valid_endpoint(etcd.endpoints[i])) {
      w.error(nodes[i], eb.at("endpoints") +
                            ": expected a URL such as http://127.0.0.1:2379 or "
                            "https://etcd.example:2379, got " +
                            quote(etcd.endpoints[i]));
    }
  }
}

void load_prefix(Walker& w, const yaml::Node& e, const Block& eb, EtcdProvider& etcd) {
  std::string prefix;
  if (!w.string_field(e, "prefix", eb, prefix)) return;
  if (prefix.empty() || prefix.front() != '/') {
    w.error(field(e, "prefix"),
            eb.at("prefix") + ": expected a key prefix starting with '/', got " + quote(prefix));
    return;
  }
  if (prefix.back() != '/') prefix += '/';
  etcd.prefix = std::move(prefix);
}

void load_etcd_tls(Walker& w, const yaml::Node& t, const Block& tb, std::string_view base_dir,
                   EtcdProvider& etcd) {
  if (!w.map_with_keys(t, tb, {"ca", "cert", "key"})) return;
  EtcdProviderTls tls;
  if (w.string_field(t, "ca", tb, tls.ca)) tls.ca = resolve_path(base_dir, tls.ca);
  const bool cert = w.string_field(t, "cert", tb, tls.cert);
  const bool key = w.string_field(t, "key", tb, tls.key);
  if (cert != key) {
    w.error(t, tb.label() + ": a client certificate needs both 'cert' and 'key'");
    return;
  }
  if (cert) {
    tls.cert = resolve_path(base_dir, tls.cert);
    tls.key = resolve_path(base_dir, tls.key);
  }
  etcd.tls = std::move(tls);
}

void load_credentials(Walker& w, const yaml::Node& e, const Block& eb, std::string_view base_dir,
                      EtcdProvider& etcd) {
  const bool user = w.string_field(e, "username", eb, etcd.username);
  std::string file;
  const bool password = w.string_field(e, "password_file", eb, file);
  if (user && !password) {
    w.missing(e, eb, "password_file", "the file holding the user's password");
    return;
  }
  if (password && !user) {
    w.error(field(e, "password_file"), eb.at("password_file") + ": needs 'username'");
    return;
  }
  if (!password) return;
  etcd.password_file = resolve_path(base_dir, file);
  std::string why;
  if (!read_password_file(etcd.password_file, etcd.password, why))
    w.error(field(e, "password_file"), eb.at("password_file") + ": " + why);
}

void load_etcd(Walker& w, const yaml::Node& e, std::string_view base_dir, EtcdProvider& etcd) {
  const Block eb{"", "provider.etcd"};
  if (!w.map_with_keys(
          e, eb, {"endpoints", "prefix", "tls", "username", "password_file", "certificate_dir"})) {
    return;
  }
  if (!field(e, "endpoints").IsDefined()) {
    w.missing(e, eb, "endpoints", "etcd's URLs, such as [http://127.0.0.1:2379]");
  } else {
    load_endpoints(w, e, eb, etcd);
  }
  load_prefix(w, e, eb, etcd);
  if (const yaml::Node t = field(e, "tls"); t.IsDefined())
    load_etcd_tls(w, t, eb.child("tls"), base_dir, etcd);
  load_credentials(w, e, eb, base_dir, etcd);
  if (w.string_field(e, "certificate_dir", eb, etcd.certificate_dir))
    etcd.certificate_dir = resolve_path(base_dir, etcd.certificate_dir);
}

}  // namespace

void load_provider(Walker& w, const yaml::Node& n, std::string_view base_dir, Provider& provider) {
  const Block pb{"", "provider"};
  if (!w.map_with_keys(n, pb, {"etcd"})) return;
  const yaml::Node e = field(n, "etcd");
  if (!e.IsDefined()) {
    w.missing(n, pb, "etcd", "the only source there is today");
    return;
  }
  EtcdProvider etcd;
  load_etcd(w, e, base_dir, etcd);
  provider.etcd = std::move(etcd);
}

Provider read_provider(std::string_view yaml, std::string_view file_name, std::string_view base_dir,
                       std::vector<Diagnostic>& diagnostics) {
  Provider provider;
  Walker w(std::string(file_name), diagnostics);
  // A text that is not YAML is reported by the full load, with its position.
  yaml::Document doc;
  yaml::parse(yaml, doc);
  if (!doc.root.IsMap()) return provider;
  if (const yaml::Node p = field(doc.root, "provider"); p.IsDefined())
    load_provider(w, p, base_dir, provider);
  return provider;
}

}  // namespace sluice::config
