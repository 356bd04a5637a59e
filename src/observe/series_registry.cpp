#include "observe/series_registry.h"

#include <algorithm>
#include <unordered_set>

namespace sluice::observe {

bool SeriesRegistry::held(const Kind& k, std::uint32_t slot) const {
  if (slot >= k.holders.size()) return false;
  return std::any_of(k.holders[slot].begin(), k.holders[slot].end(),
                     [](const auto& h) { return !h.expired(); });
}

// Names `wanted` does not list lose their slots; quarantined slots whose
// holders are gone become free.
void SeriesRegistry::release_unnamed(Kind& k, const std::vector<const Key*>& wanted) {
  std::unordered_set<std::string_view> names;
  names.reserve(wanted.size());
  for (const Key* key : wanted)
    names.insert(key->name);
  for (auto it = k.by_name.begin(); it != k.by_name.end();) {
    if (names.contains(it->first)) {
      ++it;
      continue;
    }
    k.quarantine.push_back(it->second);
    it = k.by_name.erase(it);
  }
  std::erase_if(k.quarantine, [&](std::uint32_t slot) {
    if (held(k, slot)) return false;
    if (slot < k.holders.size()) k.holders[slot].clear();
    k.free.push_back(slot);
    return true;
  });
  // Lowest first: the tables stay dense.
  std::sort(k.free.begin(), k.free.end(), std::greater<>());
}

SeriesRegistry::Outcome SeriesRegistry::assign(const std::vector<Key>& keys,
                                               std::size_t max_series) {
  std::array<std::vector<const Key*>, kSeriesKinds> wanted;
  for (const Key& key : keys)
    wanted[index(key.kind)].push_back(&key);
  Outcome out;
  for (std::size_t i = 0; i < kSeriesKinds; ++i) {
    release_unnamed(kinds_[i], wanted[i]);
    out.in_use += kinds_[i].by_name.size();
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
      out.reused.emplace_back(key.kind, slot);
    } else {
      slot = k.next++;
    }
    k.by_name.emplace(key.name, slot);
    ++out.in_use;
    out.slots.push_back(slot);
  }
  return out;
}

void SeriesRegistry::hold(SeriesKind kind, std::uint32_t slot, std::weak_ptr<const void> holder) {
  Kind& k = kinds_[index(kind)];
  if (slot >= k.next) return;
  if (k.holders.size() <= slot) k.holders.resize(slot + 1);
  auto& list = k.holders[slot];
  std::erase_if(list, [](const auto& h) { return h.expired(); });
  list.push_back(std::move(holder));
}

}  // namespace sluice::observe
