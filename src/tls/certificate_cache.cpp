#include "tls/certificate_cache.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice::tls {

bool CertificateCache::stamp_of(const std::string& path, Stamp& out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  out.dev = st.st_dev;
  out.ino = st.st_ino;
  out.size = st.st_size;
  out.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
  return true;
}

std::shared_ptr<const Certificate> CertificateCache::load(const std::string& cert_path,
                                                          const std::string& key_path,
                                                          std::string& error) {
  Stamp cert;
  Stamp key;
  if (!stamp_of(cert_path, cert)) {
    error = "cannot read " + cert_path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (!stamp_of(key_path, key)) {
    error = "cannot read " + key_path + ": " + std::strerror(errno);
    return nullptr;
  }
  auto& entry = entries_[{cert_path, key_path}];
  if (entry.certificate && entry.cert == cert && entry.key == key) return entry.certificate;
  auto loaded = Certificate::load(cert_path, key_path, error);
  if (!loaded) {
    entries_.erase({cert_path, key_path});
    return nullptr;
  }
  entry = Entry{cert, key, loaded};
  return loaded;
}

std::vector<std::shared_ptr<const Certificate>> CertificateCache::load_directory(
    const std::string& directory, std::vector<std::string>& errors) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(directory.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pem") == 0) names.push_back(name);
    }
    ::closedir(d);
  } else {
    errors.push_back("cannot read directory " + directory + ": " + std::strerror(errno));
    return {};
  }
  std::sort(names.begin(), names.end());
  std::vector<std::shared_ptr<const Certificate>> out;
  for (const auto& name : names) {
    const std::string path = directory + (directory.ends_with('/') ? "" : "/") + name;
    std::string error;
    if (auto c = load(path, path, error)) {
      out.push_back(std::move(c));
    } else {
      errors.push_back(error);
    }
  }
  if (out.empty() && errors.empty()) {
    errors.push_back("no *.pem file in directory " + directory);
  }
  return out;
}

void CertificateCache::forget_unused() {
  std::erase_if(entries_, [](const auto& kv) { return kv.second.certificate.use_count() <= 1; });
}

std::vector<std::string> CertificateCache::files() const {
  std::vector<std::string> out;
  for (const auto& [paths, entry] : entries_) {
    out.push_back(paths.first);
    if (paths.second != paths.first) out.push_back(paths.second);
  }
  return out;
}

}  // namespace sluice::tls
