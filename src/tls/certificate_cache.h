// Certificates loaded from files, once: a configuration that names the same
// chain and key for 800 sites, and each reload that keeps them, reuse one
// loaded Certificate. An entry is found by the files' paths and is reused
// only while both files are unchanged (device, inode, size, modification
// time), so a renewed certificate is read again and an unchanged one is
// not parsed at all. Used while building a snapshot (one thread at a time).
#pragma once

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tls/certificate.h"

namespace sluice::tls {

class CertificateCache {
 public:
  // The certificate in `cert_path` with its key in `key_path` (the same
  // path for a file holding both). Null with `error` set on failure.
  std::shared_ptr<const Certificate> load(const std::string& cert_path, const std::string& key_path,
                                          std::string& error);
  // Every *.pem file of `directory` (sorted by name), each holding a chain
  // and its key. Files that fail are reported in `errors` ("FILE: why").
  std::vector<std::shared_ptr<const Certificate>> load_directory(const std::string& directory,
                                                                 std::vector<std::string>& errors);
  // Drops what no snapshot uses any more; call after a build.
  void forget_unused();
  // Every file a cached certificate was read from (to watch them).
  std::vector<std::string> files() const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    long long mtime_ns = 0;
    friend bool operator==(const Stamp&, const Stamp&) = default;
  };
  static bool stamp_of(const std::string& path, Stamp& out);
  struct Entry {
    Stamp cert;
    Stamp key;
    std::shared_ptr<const Certificate> certificate;
  };
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

}  // namespace sluice::tls
