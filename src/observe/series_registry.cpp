#include "observe/series_registry.h"

#include <algorithm>
#include <functional>
#include <unordered_set>

namespace sluice::observe {
namespace {

constexpr std::uint32_t kEpochs = 1u << (32 - kSlotIndexBits);

}  // namespace

SeriesRegistry::Outcome SeriesRegistry::assign(const std::vector<Key>& keys,
                                               std::size_t max_series) {
  std::array<std::unordered_set<std::string_view>, kSeriesKinds> wanted;
  for (const Key& key : keys)
    wanted[index(key.kind)].insert(key.name);
  Outcome out;
  for (std::size_t i = 0; i < kSeriesKinds; ++i) {
    Kind& k = kinds_[i];
    std::erase_if(k.by_name, [&](const auto& kv) {
      if (wanted[i].contains(kv.first)) return false;
      k.free.push_back(slot_index(kv.second));
      return true;
    });
    // Lowest first: the tables stay dense.
    std::sort(k.free.begin(), k.free.end(), std::greater<>());
    out.in_use += k.by_name.size();
  }
  out.slots.reserve(keys.size());
  for (const Key& key : keys) {
    Kind& k = kinds_[index(key.kind)];
    if (auto it = k.by_name.find(key.name); it != k.by_name.end()) {
      out.slots.push_back(it->second);
      continue;
    }
    if (out.in_use >= max_series || (k.free.empty() && k.next >= kMaxSlotsPerKind)) {
      out.slots.push_back(kNoSlot);
      ++out.refused;
      continue;
    }
    std::uint32_t slot = 0;
    if (!k.free.empty()) {
      slot = k.free.back();
      k.free.pop_back();
      // A new epoch: ids of the name that had it no longer match.
      k.epochs[slot] = static_cast<std::uint16_t>((k.epochs[slot] + 1) % kEpochs);
      out.reused.emplace_back(key.kind, slot);
    } else {
      slot = k.next++;
      k.epochs.push_back(0);
    }
    const std::uint32_t id = (static_cast<std::uint32_t>(k.epochs[slot]) << kSlotIndexBits) | slot;
    k.by_name.emplace(key.name, id);
    ++out.in_use;
    out.slots.push_back(id);
  }
  return out;
}

}  // namespace sluice::observe
