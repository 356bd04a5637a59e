// Which named things have series in /metrics, and where their counts live:
// each listener, route, backend, server and request key (a listener, route
// and backend seen together) gets a slot, a small number that indexes
// every worker's counts (worker_metrics.h). A name keeps its slot across
// reloads for as long as it stays configured, so its counters only ever
// grow. A cap bounds how many slots are handed out (`metrics.max_series`):
// the scrape's size stays bounded whatever the configuration holds.
//
// Used by one thread at a time (the one building a configuration); a
// reload works on a copy and keeps it only when the configuration applies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
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

// Slots per kind, whatever the cap: bounds the workers' chunk tables.
inline constexpr std::uint32_t kMaxSlotsPerKind = 1u << 21;
// The highest `metrics.max_series` the configuration accepts.
inline constexpr std::size_t kMaxSeriesLimit = 1'000'000;

class SeriesRegistry {
 public:
  struct Key {
    SeriesKind kind = SeriesKind::listener;
    std::string name;  // unique within its kind; the same name twice gets the same slot
  };
  struct Outcome {
    std::vector<std::uint32_t> slots;  // by key, kNoSlot when over the cap
    // Slots handed out now that a name held before: every worker zeroes
    // them before it counts under the new names.
    std::vector<std::pair<SeriesKind, std::uint32_t>> reused;
    std::size_t in_use = 0;   // slots with a name, after this assignment
    std::size_t refused = 0;  // keys without a slot (over the cap)
  };

  // The slots of the configuration `keys` describe, in order: names seen
  // before keep theirs, new ones get one while fewer than `max_series` are
  // in use (in the order given: put what matters most first). Names not
  // in `keys` lose theirs; a slot something may still count under (see
  // hold()) waits until that is gone before another name gets it.
  Outcome assign(const std::vector<Key>& keys, std::size_t max_series);

  // `holder` may still carry `slot` into requests while it lives (the
  // route, backend or listener object a request in flight has pinned): the
  // slot is not handed to another name until every holder is gone.
  void hold(SeriesKind kind, std::uint32_t slot, std::weak_ptr<const void> holder);

  // Slots of `kind` ever handed out: every slot is below it.
  std::uint32_t extent(SeriesKind kind) const { return kinds_[index(kind)].next; }

 private:
  static std::size_t index(SeriesKind k) { return static_cast<std::size_t>(k); }
  struct Kind {
    std::unordered_map<std::string, std::uint32_t> by_name;
    std::vector<std::vector<std::weak_ptr<const void>>> holders;  // by slot
    std::vector<std::uint32_t> free;        // reusable (zeroed by the workers first)
    std::vector<std::uint32_t> quarantine;  // unnamed, but something may still count there
    std::uint32_t next = 0;
  };
  bool held(const Kind& k, std::uint32_t slot) const;
  void release_unnamed(Kind& k, const std::vector<const Key*>& wanted);
  std::array<Kind, kSeriesKinds> kinds_;
};

}  // namespace sluice::observe
