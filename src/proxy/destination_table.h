// Gives each distinct server address a small stable number, the key of the
// connection pools. Shared by all snapshots of one running server, so a
// reload that keeps a server keeps its key, and its pooled connections.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "proxy/upstream.h"

namespace sluice::proxy {

class DestinationTable {
 public:
  // Thread-safe; called while building a snapshot, never on the data path.
  DestinationId id_of(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto [it, added] = ids_.try_emplace(key, static_cast<DestinationId>(ids_.size()));
    return it->second;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return ids_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, DestinationId> ids_;
};

}  // namespace sluice::proxy
