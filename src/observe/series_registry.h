// Which named things have series in /metrics, and where their counts live:
// each listener, route, backend, server and request key (a listener, route
// and backend seen together) gets a slot id. Its low bits are an index
// into every worker's counts (worker_metrics.h), its high bits the index's
// epoch. A name keeps its id across reloads for as long as it stays
// configured, so its counters only ever grow. An index a removed name
// leaves is given to the next new name under a new epoch: a request that
// began before the reload still carries the old id, and the workers, which
// check ids against the layout in force, count it under no series rather
// than under the new name. A cap bounds how many ids are handed out
// (`metrics.max_series`): the scrape's size stays bounded whatever the
// configuration holds.
//
// Used by one thread at a time (the one building a configuration); a
// reload works on a copy and keeps it only when the configuration applies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "observe/request_record.h"

namespace sluice::observe {

enum class SeriesKind : std::uint8_t {
  listener,
  route,
  request,  // a (listener, route, backend) triple: requests by method and code, bytes
  backend,
  server,  // one server of one backend
  count
};
inline constexpr std::size_t kSeriesKinds = static_cast<std::size_t>(SeriesKind::count);

// A slot id: index in the low bits, epoch above. kNoSlot is never an id.
inline constexpr unsigned kSlotIndexBits = 21;
inline constexpr std::uint32_t kSlotIndexMask = (1u << kSlotIndexBits) - 1;
inline constexpr std::uint32_t slot_index(std::uint32_t id) {
  return id & kSlotIndexMask;
}
// Indexes per kind, whatever the cap: bounds the workers' chunk tables.
inline constexpr std::uint32_t kMaxSlotsPerKind = kSlotIndexMask;
// The highest `metrics.max_series` the configuration accepts.
inline constexpr std::size_t kMaxSeriesLimit = 1'000'000;

class SeriesRegistry {
 public:
  struct Key {
    SeriesKind kind = SeriesKind::listener;
    std::string name;  // unique within its kind; the same name twice gets the same id
  };
  struct Outcome {
    std::vector<std::uint32_t> slots;  // ids by key, kNoSlot when over the cap
    // Indexes given to new names that other names held before: every
    // worker zeroes them before it counts under the new ids.
    std::vector<std::pair<SeriesKind, std::uint32_t>> reused;
    std::size_t in_use = 0;   // names with an id, after this assignment
    std::size_t refused = 0;  // keys without one (over the cap)
  };

  // The ids of the configuration `keys` describe, in order: names seen
  // before keep theirs, new ones get one while fewer than `max_series` are
  // in use (in the order given: put what matters most first). Names not in
  // `keys` lose theirs.
  Outcome assign(const std::vector<Key>& keys, std::size_t max_series);

  // Indexes of `kind` ever handed out: every index is below it.
  std::uint32_t extent(SeriesKind kind) const { return kinds_[index(kind)].next; }

 private:
  static std::size_t index(SeriesKind k) { return static_cast<std::size_t>(k); }
  struct Kind {
    std::unordered_map<std::string, std::uint32_t> by_name;  // name -> id
    std::vector<std::uint16_t> epochs;                       // by index
    std::vector<std::uint32_t> free;                         // indexes
    std::uint32_t next = 0;
  };
  std::array<Kind, kSeriesKinds> kinds_;
};

}  // namespace sluice::observe
