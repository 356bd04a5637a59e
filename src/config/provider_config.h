// The top-level 'provider' block (docs/config.md, "provider"): where a
// fleet's configuration comes from besides the file. Today one source,
// etcd v3 (docs/fleet.md); the file's own sections and etcd's keys are
// composed into one configuration at every load.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

struct SourceLocation;

struct EtcdProviderTls {
  std::string ca;    // PEM file of the CAs etcd's certificate must lead to (resolved path)
  std::string cert;  // our client certificate chain (resolved path); empty: none
  std::string key;   // its key (resolved path); empty with `cert`
};

struct EtcdProvider {
  std::vector<std::string> endpoints;  // "http://host:port" or "https://host:port", tried in turn
  std::string prefix = "/sluice/";     // every key read lies under it; always ends with '/'
  std::optional<EtcdProviderTls> tls;
  std::string username;       // empty: no authentication
  std::string password_file;  // resolved path; read at load into `password`
  std::string password;
  // Where certificates from etcd (PREFIX/certificates/NAME) are written for
  // the TLS layer to read (resolved path).
  std::string certificate_dir = "/var/lib/sluice/certificates";
};

struct Provider {
  std::optional<EtcdProvider> etcd;
};

}  // namespace sluice::config
