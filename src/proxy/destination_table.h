// Gives each distinct destination, a server address together with the
// transport parameters connections to it use, a small stable number, the
// key of the connection pools, and one Endpoint that carries both the
// address and the key. Shared by all snapshots of one running server, so a
// reload that keeps a server keeps its key, and its pooled connections; a
// server whose name now resolves elsewhere gets the other address's key,
// and one reached with other transport parameters (another SNI, say) gets
// a key of its own, never a connection made for someone else. Only real
// addresses get a key: a server that does not resolve has none, so it can
// never share one.
#pragma once

#include <cstddef>
#include <functional>
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
  const balance::Endpoint* endpoint_of(const SocketAddress& addr,
                                       const TransportParams& transport) {
    std::lock_guard lock(mutex_);
    auto& slot = endpoints_[Key{addr.to_string(), transport}];
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
  struct Key {
    std::string address;
    TransportParams transport;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      // Most keys differ by address alone; the rest only needs to be mixed in.
      const std::hash<std::string> h;
      std::size_t seed = h(k.address);
      auto mix = [&seed](std::size_t v) {
        seed ^= v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
      };
      mix(k.transport.tls);
      mix(h(k.transport.sni));
      mix(k.transport.verify_peer);
      for (const auto& p : k.transport.alpn)
        mix(h(p));
      mix(h(k.transport.client_certificate));
      mix(h(k.transport.ca));
      return seed;
    }
  };

  mutable std::mutex mutex_;
  std::unordered_map<Key, std::unique_ptr<balance::Endpoint>, KeyHash> endpoints_;
};

}  // namespace sluice::proxy
