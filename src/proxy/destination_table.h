// Gives each distinct server address a small stable number, the key of the
// connection pools, and one Endpoint that carries both. Shared by all
// snapshots of one running server, so a reload that keeps a server keeps its
// key, and its pooled connections; a server whose name now resolves
// elsewhere gets the other address's key. Only real addresses get a key: a
// server that does not resolve has none, so it can never share one.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "balance/server_state.h"
#include "proxy/backend.h"

namespace sluice::proxy {

class DestinationTable {
 public:
  // Thread-safe; called while building a snapshot and by the resolver,
  // never on the data path. The endpoint lives as long as the table.
  const balance::Endpoint* endpoint_of(const SocketAddress& addr) {
    std::lock_guard lock(mutex_);
    auto& slot = endpoints_[addr.to_string()];
    if (!slot) {
      slot = std::make_unique<balance::Endpoint>();
      slot->addr = addr;
      slot->pool_key = static_cast<DestinationId>(endpoints_.size() - 1);
    }
    return slot.get();
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return endpoints_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<balance::Endpoint>> endpoints_;
};

}  // namespace sluice::proxy
