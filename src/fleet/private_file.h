// Files the fleet writes that may hold a private key: etcd's certificates
// on each instance (the provider) and on an operator's disk (config get).
#pragma once

#include <string>
#include <string_view>

namespace sluice::fleet {

// Writes `content` to `path`, readable by its owner only (0600), so that a
// reader sees the old file or the new one whole: a temporary file beside
// it, written, synced and renamed over it. False: `error` says why.
bool write_private_file(const std::string& path, std::string_view content, std::string& error);

}  // namespace sluice::fleet
