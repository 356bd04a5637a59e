#include "observe/metrics_layout.h"

#include <algorithm>
#include <bit>

namespace sluice::observe {

void MetricsLayout::assign(SeriesKind kind, std::uint32_t id) {
  auto& v = ids[static_cast<std::size_t>(kind)];
  const std::uint32_t i = slot_index(id);
  if (v.size() <= i) v.resize(i + 1, kNoSlot);
  v[i] = id;
}

void MetricsLayout::index_requests() {
  std::size_t live = 0;
  for (std::size_t i = 0; i < requests.size(); ++i)
    live += i < request_live.size() && request_live[i] ? 1 : 0;
  table_.assign(std::bit_ceil(std::max<std::size_t>(8, live * 2)), Entry{});
  mask_ = table_.size() - 1;
  for (std::size_t slot = 0; slot < requests.size(); ++slot) {
    if (slot >= request_live.size() || !request_live[slot]) continue;
    const Request& r = requests[slot];
    std::size_t i = hash(r.listener, r.route, r.backend) & mask_;
    while (table_[i].slot != kNoSlot)
      i = (i + 1) & mask_;
    table_[i] = {r.listener, r.route, r.backend, static_cast<std::uint32_t>(slot)};
  }
}

}  // namespace sluice::observe
