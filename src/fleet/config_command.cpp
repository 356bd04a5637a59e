// `sluice config push` and `sluice config get`.
//
// push: the file is checked as `sluice check` checks it, split into keys
// (key_layout.h), and written in ONE transaction that also bumps
// PREFIX/generation, conditioned on generation's mod_revision so that two
// writers never interleave (the provider applies nothing until the
// generation moves, so readers never see half a push). Keys that are gone
// from the file are deleted in the same transaction; keys whose value did
// not change are left alone, so their mod_revision keeps saying when they
// last changed.
#include "fleet/config_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "config/loader.h"
#include "config/model.h"
#include "fleet/etcd_client.h"
#include "fleet/key_layout.h"
#include "fleet/private_file.h"

namespace sluice::fleet {

namespace {

// A condition that failed means another writer got in between our read and
// our write; more than a few in a row means something writes constantly.
constexpr int kPushAttempts = 5;

struct Options {
  std::string file;
  std::vector<std::string> endpoints;
  std::string prefix = "/sluice/";
  std::string user;
  std::string password_file;
  std::string cacert;
  std::string cert;
  std::string key;
  std::string certificate_dir;  // get: where {etcd: NAME} certificates are written
  // A transaction of thousands of keys on a busy etcd takes seconds, and a
  // command has nothing better to do than wait for it.
  std::uint64_t timeout_s = 30;
};

void add_connection_options(CLI::App& cmd, Options& o) {
  cmd.add_option("--etcd", o.endpoints,
                 "etcd endpoint, as http://HOST:PORT or https://HOST:PORT (repeat to try more)")
      ->required();
  cmd.add_option("--prefix", o.prefix, "Key prefix the configuration lives under")
      ->capture_default_str();
  cmd.add_option("--user", o.user, "etcd user name (with --password-file)");
  cmd.add_option("--password-file", o.password_file, "File holding the etcd user's password");
  cmd.add_option("--cacert", o.cacert, "CA certificates to verify an https etcd with (PEM)");
  cmd.add_option("--cert", o.cert, "Client certificate for etcd (PEM)");
  cmd.add_option("--key", o.key, "The client certificate's private key (PEM)");
  cmd.add_option("--timeout", o.timeout_s, "Seconds to wait for etcd to answer one request")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return ss.str();
}

std::string quoted_name(const std::string& s) {
  return "'" + s + "'";
}

void fail(const char* command, const std::string& why) {
  std::fprintf(stderr, "sluice config %s: %s\n", command, why.c_str());
}

std::string with_slash(std::string prefix) {
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  return prefix;
}

std::optional<EtcdSettings> settings_from(const Options& o, const char* command) {
  EtcdSettings s;
  s.endpoints = o.endpoints;
  s.prefix = with_slash(o.prefix);
  s.ca_file = o.cacert;
  s.cert_file = o.cert;
  s.key_file = o.key;
  s.username = o.user;
  s.timeout_ms = o.timeout_s * 1000;
  if (o.user.empty() != o.password_file.empty()) {
    fail(command, "--user and --password-file go together");
    return std::nullopt;
  }
  if (!o.password_file.empty()) {
    std::string error;
    auto password = read_file(o.password_file, error);
    if (!password) {
      fail(command, error);
      return std::nullopt;
    }
    // A file written by `echo` ends with a line feed that is no part of it.
    while (!password->empty() && (password->back() == '\n' || password->back() == '\r'))
      password->pop_back();
    s.password = std::move(*password);
  }
  return s;
}

// ------------------------------------------------------------ route order

// What decides between two routes that both match, before file order
// (docs/config.md, "Routes"): routes with equal ranks here are ordered by
// the file alone. Ranks differ whenever these differ, and routes with
// different exact paths, prefixes of one length or hosts never match the
// same request, so they need no order.
std::string rank_group(const config::Route& r) {
  const auto& m = r.match;
  std::string g = std::to_string(r.priority) + '\n' + m.host.value_or("") + '\n';
  if (m.path_exact) return g + "exact\n" + *m.path_exact;
  if (m.path) return g + "prefix\n" + *m.path;
  return g + (m.path_regex ? "regex" : "any");
}

// etcd orders route keys by name, and so does compose: routes whose order
// only the file decided must keep it. Each such pair is an error at the
// route that would move ahead.
std::vector<std::string> route_order_errors(const config::Config& config,
                                            const std::vector<std::string>& key_names,
                                            const std::string& file) {
  std::vector<std::string> errors;
  // Per rank group, the route with the greatest key name so far.
  std::map<std::string, std::size_t> greatest;
  for (std::size_t i = 0; i < config.routes.size() && i < key_names.size(); ++i) {
    const auto [it, fresh] = greatest.emplace(rank_group(config.routes[i]), i);
    if (fresh) continue;
    const std::size_t before = it->second;
    if (key_names[i] > key_names[before]) {
      it->second = i;
      continue;
    }
    const auto& r = config.routes[i];
    const auto& b = config.routes[before];
    errors.push_back(file + ":" + std::to_string(r.where.line) + ":" +
                     std::to_string(r.where.column) + ": error: route '" + r.name +
                     "' comes after route '" + b.name + "' (line " + std::to_string(b.where.line) +
                     "), and only file order decides between them; etcd keeps routes in the " +
                     "order of their names, which would try '" + r.name +
                     "' first: give the route to try first a higher priority, or name them in " +
                     "that order");
  }
  return errors;
}

// ----------------------------------------------------------- certificates

// A listener's {cert, key} files become PREFIX/certificates/NAME (chain
// then key, as one PEM) and the listener names them as {etcd: NAME}, which
// the provider writes to files on each instance. {directory} entries stay:
// they name a directory on each instance.
bool move_certificates(const config::Config& config, const std::string& prefix,
                       std::vector<std::pair<std::string, std::string>>& keys, std::string& error) {
  std::map<std::string, std::string> pem_by_name;
  for (const auto& listener : config.listeners) {
    if (!listener.tls) continue;
    const std::string listener_key = prefix + "listeners/" + listener.name;
    auto kv = std::find_if(keys.begin(), keys.end(),
                           [&](const auto& k) { return k.first == listener_key; });
    if (kv == keys.end()) continue;
    YAML::Node value = YAML::Load(kv->second);
    YAML::Node entries = value["tls"]["certificates"];
    bool changed = false;
    for (std::size_t j = 0; j < listener.tls->certificates.size() && j < entries.size(); ++j) {
      const auto& c = listener.tls->certificates[j];
      if (c.cert.empty() || c.key.empty()) continue;
      auto chain = read_file(c.cert, error);
      auto key = chain ? read_file(c.key, error) : std::nullopt;
      if (!chain || !key) return false;
      if (!chain->empty() && chain->back() != '\n') *chain += '\n';
      const std::string pem = *chain + *key;
      const std::string stem = std::filesystem::path(c.cert).stem().string();
      std::string name = stem.empty() ? "certificate" : stem;
      for (int n = 2; pem_by_name.contains(name) && pem_by_name[name] != pem; ++n)
        name = stem + "-" + std::to_string(n);
      pem_by_name[name] = pem;
      YAML::Node ref;
      ref["etcd"] = name;
      entries[j] = ref;
      changed = true;
    }
    if (changed) {
      YAML::Emitter out;
      out << value;
      kv->second = std::string(out.c_str()) + "\n";
    }
  }
  for (auto& [name, pem] : pem_by_name)
    keys.emplace_back(prefix + "certificates/" + name, std::move(pem));
  return true;
}

// ------------------------------------------------------------------- push

int push(const Options& o, const FileCheck& check) {
  if (!check(o.file)) return 1;
  std::string error;
  const auto text = read_file(o.file, error);
  if (!text) {
    fail("push", error);
    return 1;
  }
  auto settings = settings_from(o, "push");
  if (!settings) return 1;
  const std::string prefix = settings->prefix;
  SplitConfig split = split_config(*text, o.file, prefix);
  const auto loaded = config::load_string(*text, o.file, config::directory_of(o.file));
  if (!loaded.ok()) split.errors.push_back(o.file + ": error: the file changed while pushing it");
  if (split.errors.empty()) {
    std::vector<std::string> route_names;
    for (const auto& [key, value] : split.keys)
      if (key.starts_with(prefix + "routes/")) route_names.push_back(key.substr(prefix.size() + 7));
    split.errors = route_order_errors(*loaded.config, route_names, o.file);
  }
  if (split.errors.empty() && !move_certificates(*loaded.config, prefix, split.keys, error)) {
    split.errors.push_back(o.file + ": error: " + error);
  }
  if (!split.errors.empty()) {
    for (const auto& e : split.errors)
      std::fprintf(stderr, "%s\n", e.c_str());
    std::fprintf(stderr, "%s: nothing pushed\n", o.file.c_str());
    return 1;
  }

  EtcdClient client(*settings);
  const std::string generation_key = prefix + "generation";
  for (int attempt = 0; attempt < kPushAttempts; ++attempt) {
    auto range = client.range_prefix();
    if (!range) {
      fail("push", range.error.message + "; nothing pushed");
      return 1;
    }
    std::map<std::string, std::string> current;
    std::int64_t generation = 0;
    std::int64_t generation_mod_revision = 0;
    for (auto& kv : range.value->kvs) {
      if (kv.key == generation_key) {
        std::from_chars(kv.value.data(), kv.value.data() + kv.value.size(), generation);
        generation_mod_revision = kv.mod_revision;
      } else {
        current.emplace(std::move(kv.key), std::move(kv.value));
      }
    }
    EtcdTxn txn;
    txn.expect_generation_mod_revision = generation_mod_revision;
    std::set<std::string> wanted;
    std::size_t unchanged = 0;
    for (const auto& [key, value] : split.keys) {
      wanted.insert(key);
      const auto it = current.find(key);
      if (it != current.end() && it->second == value) {
        ++unchanged;
      } else {
        txn.puts.emplace_back(key, value);
      }
    }
    for (const auto& [key, value] : current)
      if (!wanted.contains(key)) txn.deletes.push_back(key);
    const std::size_t written = txn.puts.size();
    txn.puts.emplace_back(generation_key, std::to_string(generation + 1));
    auto outcome = client.txn(txn);
    if (!outcome) {
      // The request may have reached etcd before the answer was lost.
      fail("push", outcome.error.message +
                       "; the transaction may or may not have been applied: push again to be "
                       "sure");
      return 1;
    }
    if (outcome.value->succeeded) {
      std::printf(
          "%s: pushed to %s: %zu key%s written, %zu deleted, %zu unchanged; generation %lld "
          "(revision %lld)\n",
          o.file.c_str(), prefix.c_str(), written, written == 1 ? "" : "s", txn.deletes.size(),
          unchanged, static_cast<long long>(generation + 1),
          static_cast<long long>(outcome.value->revision));
      return 0;
    }
  }
  fail("push", "another writer changed " + generation_key + " " + std::to_string(kPushAttempts) +
                   " times while pushing; nothing pushed, try again");
  return 1;
}

// -------------------------------------------------------------------- get

// The PEM blocks of `pem`: certificates into `chain`, the private key into `key`.
void split_pem(const std::string& pem, std::string& chain, std::string& key) {
  std::size_t at = 0;
  while ((at = pem.find("-----BEGIN ", at)) != std::string::npos) {
    const std::size_t label_end = pem.find("-----", at + 11);
    if (label_end == std::string::npos) break;
    const std::string label = pem.substr(at + 11, label_end - at - 11);
    const std::string end_marker = "-----END " + label + "-----";
    std::size_t end = pem.find(end_marker, label_end);
    if (end == std::string::npos) break;
    end += end_marker.size();
    const std::string block = pem.substr(at, end - at) + "\n";
    (label.find("PRIVATE KEY") != std::string::npos ? key : chain) += block;
    at = end;
  }
}

// get --certificate-dir: each {etcd: NAME} entry of a listener's
// tls.certificates becomes DIR/NAME.crt (the chain) and DIR/NAME.key, so
// that the output is a file `sluice check` and `sluice run` take as it is.
bool write_certificates(std::map<std::string, std::string>& keys, const std::string& prefix,
                        const std::string& dir_in, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir_in, ec);
  const std::string dir = std::filesystem::absolute(dir_in, ec).string();
  for (auto& [key, value] : keys) {
    if (!key.starts_with(prefix + "listeners/")) continue;
    YAML::Node listener;
    try {
      listener = YAML::Load(value);
    } catch (const YAML::Exception&) {
      continue;  // compose names it
    }
    const YAML::Node& view = listener;
    if (!view.IsMap() || !view["tls"].IsMap() || !view["tls"]["certificates"].IsSequence())
      continue;
    YAML::Node entries = listener["tls"]["certificates"];
    bool changed = false;
    for (std::size_t j = 0; j < entries.size(); ++j) {
      const YAML::Node entry = entries[j];
      if (!entry.IsMap() || !entry["etcd"].IsScalar()) continue;
      const std::string name = entry["etcd"].Scalar();
      const auto pem = keys.find(prefix + "certificates/" + name);
      if (pem == keys.end() || name.find('/') != std::string::npos) {
        error = key + ": refers to certificate " + quoted_name(name) + ", which is not in etcd";
        return false;
      }
      std::string chain;
      std::string private_key;
      split_pem(pem->second, chain, private_key);
      const std::string base = dir + "/" + name;
      if (!write_private_file(base + ".crt", chain, error) ||
          !write_private_file(base + ".key", private_key, error)) {
        return false;
      }
      YAML::Node files;
      files["cert"] = base + ".crt";
      files["key"] = base + ".key";
      entries[j] = files;
      changed = true;
    }
    if (changed) {
      YAML::Emitter out;
      out << listener;
      value = std::string(out.c_str()) + "\n";
    }
  }
  return true;
}

int get(const Options& o) {
  auto settings = settings_from(o, "get");
  if (!settings) return 1;
  EtcdClient client(*settings);
  auto range = client.range_prefix();
  if (!range) {
    fail("get", range.error.message);
    return 1;
  }
  std::map<std::string, std::string> keys;
  std::string generation = "none";
  for (auto& kv : range.value->kvs) {
    if (kv.key == settings->prefix + "generation") generation = kv.value;
    keys.emplace(std::move(kv.key), std::move(kv.value));
  }
  if (keys.empty()) {
    fail("get", "no keys under " + settings->prefix);
    return 1;
  }
  std::string error;
  if (!o.certificate_dir.empty() &&
      !write_certificates(keys, settings->prefix, o.certificate_dir, error)) {
    fail("get", error);
    return 1;
  }
  const ComposedConfig composed = compose_config(keys, settings->prefix, "", "");
  if (!composed.errors.empty()) {
    for (const auto& e : composed.errors)
      std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  std::printf("# from etcd: %s, generation %s (revision %lld)\n%s", settings->prefix.c_str(),
              generation.c_str(), static_cast<long long>(range.value->revision),
              composed.text.c_str());
  return 0;
}

}  // namespace

CLI::App* add_config_commands(CLI::App& app, FileCheck check, int& exit_code) {
  auto options = std::make_shared<Options>();
  auto* config = app.add_subcommand(
      "config", "Keep a fleet's configuration in etcd (docs/fleet.md): push a file, get it back");
  config->require_subcommand(1);
  auto* push_cmd = config->add_subcommand(
      "push",
      "Check FILE as `sluice check` does, then write it into etcd as keys in one transaction "
      "(deleting keys that are gone) and bump PREFIX/generation");
  push_cmd->add_option("FILE", options->file, "Configuration file to push")->required();
  add_connection_options(*push_cmd, *options);
  push_cmd->callback(
      [options, check = std::move(check), &exit_code] { exit_code = push(*options, check); });
  auto* get_cmd = config->add_subcommand(
      "get", "Write the configuration kept in etcd to standard output, as one YAML document");
  add_connection_options(*get_cmd, *options);
  get_cmd->add_option("--certificate-dir", options->certificate_dir,
                      "Write certificates kept in etcd here (NAME.crt, NAME.key) and name those "
                      "files in the output");
  get_cmd->callback([options, &exit_code] { exit_code = get(*options); });
  return config;
}

}  // namespace sluice::fleet
