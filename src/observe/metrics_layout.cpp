#include "observe/metrics_layout.h"

#include <algorithm>
#include <bit>

namespace sluice::observe {

std::uint32_t MetricsLayout::extent(SeriesKind kind) const {
  switch (kind) {
    case SeriesKind::listener:
      return static_cast<std::uint32_t>(listeners.size());
    case SeriesKind::route:
      return static_cast<std::uint32_t>(routes.size());
    case SeriesKind::request:
      return static_cast<std::uint32_t>(requests.size());
    case SeriesKind::backend:
      return static_cast<std::uint32_t>(backends.size());
    case SeriesKind::server:
      return static_cast<std::uint32_t>(servers.size());
    case SeriesKind::count:
      break;
  }
  return 0;
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
