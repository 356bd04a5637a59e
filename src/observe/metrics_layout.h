// What the counts in every worker's slots mean under one configuration:
// the names each slot stands for, and how a finished request's listener,
// route and backend slots find their request slot. Built with each
// snapshot (off the request path), immutable, shared by the workers that
// count under it and the scrape that renders it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "observe/request_record.h"
#include "observe/series_registry.h"

namespace sluice::observe {

struct MetricsLayout {
  struct Server {
    std::string backend;
    std::string address;  // as configured
  };
  // A request key: the ids of its listener, route and backend.
  struct Request {
    std::uint32_t listener = kNoSlot;
    std::uint32_t route = kNoSlot;    // kNoSlot: no route matched
    std::uint32_t backend = kNoSlot;  // kNoSlot: answered without a backend
  };

  // By index (slot_index()); an empty name, or a key not live, has no series.
  std::vector<std::string> listeners;
  std::vector<std::string> routes;
  std::vector<std::string> backends;
  std::vector<Server> servers;
  std::vector<Request> requests;
  std::vector<bool> request_live;
  // The id each index stands for now, by kind (kNoSlot: none). A record
  // carrying another id for the index began under an earlier
  // configuration, and names something this one no longer has.
  std::array<std::vector<std::uint32_t>, kSeriesKinds> ids;

  // Gives index slot_index(`id`) of `kind` to `id` (and grows the tables).
  void assign(SeriesKind kind, std::uint32_t id);
  bool current(SeriesKind kind, std::uint32_t id) const {
    const auto& v = ids[static_cast<std::size_t>(kind)];
    const std::uint32_t i = slot_index(id);
    return id != kNoSlot && i < v.size() && v[i] == id;
  }

  std::size_t max_series = 0;
  std::size_t in_use = 0;
  std::size_t refused = 0;  // names of this configuration without series (over the cap)
  // Indexes each worker zeroes as it adopts this layout (SeriesRegistry::Outcome).
  std::vector<std::pair<SeriesKind, std::uint32_t>> reused;

  // Indexes of every kind: what each worker must have room for.
  std::uint32_t extent(SeriesKind kind) const {
    return static_cast<std::uint32_t>(ids[static_cast<std::size_t>(kind)].size());
  }

  // The request key's index for these three ids, or kNoSlot.
  std::uint32_t request_slot(std::uint32_t listener, std::uint32_t route,
                             std::uint32_t backend) const {
    if (table_.empty() || listener == kNoSlot) return kNoSlot;
    const std::uint64_t h = hash(listener, route, backend);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.slot == kNoSlot) return kNoSlot;
      if (e.listener == listener && e.route == route && e.backend == backend) return e.slot;
    }
  }
  // Call once every request key is set.
  void index_requests();

 private:
  struct Entry {
    std::uint32_t listener = kNoSlot;
    std::uint32_t route = kNoSlot;
    std::uint32_t backend = kNoSlot;
    std::uint32_t slot = kNoSlot;  // kNoSlot: empty
  };
  static std::uint64_t hash(std::uint32_t l, std::uint32_t r, std::uint32_t b) {
    std::uint64_t x =
        (static_cast<std::uint64_t>(l) << 32) ^ r ^ (static_cast<std::uint64_t>(b) << 17);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
  }
  std::vector<Entry> table_;  // open addressing, at most half full
  std::size_t mask_ = 0;
};

}  // namespace sluice::observe
