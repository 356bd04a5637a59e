#include "observe/worker_metrics.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace sluice::observe {
namespace {

// The single-writer increment of observe::Counter, on a plain cell.
inline void bump(std::uint64_t& cell, std::uint64_t n = 1) {
  std::atomic_ref<std::uint64_t> c(cell);
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline void observe_us(std::uint64_t* histogram, std::int64_t us) {
  bump(histogram[bucket_of(us)]);
  bump(histogram[kBuckets], static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)));
}

std::size_t chunk_bytes(std::size_t width) {
  return width * WorkerMetrics::kSlotsPerChunk * sizeof(std::uint64_t);
}

}  // namespace

const std::array<std::string_view, cells::kMethods> kMethodNames{
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "other"};
const std::array<std::string_view, cells::kCodes> kCodeNames{"none", "1xx", "2xx",
                                                             "3xx",  "4xx", "5xx"};

std::size_t cells_per_slot(SeriesKind kind) {
  switch (kind) {
    case SeriesKind::request:
      return cells::kRequest;
    case SeriesKind::route:
      return cells::kRoute;
    case SeriesKind::backend:
      return cells::kBackend;
    case SeriesKind::server:
      return cells::kServer;
    case SeriesKind::listener:
    case SeriesKind::count:
      break;
  }
  return 0;
}

std::size_t method_index(std::string_view m) {
  switch (m.size()) {
    case 3:
      return m == "GET" ? 0 : m == "PUT" ? 3 : 8;
    case 4:
      return m == "HEAD" ? 1 : m == "POST" ? 2 : 8;
    case 5:
      return m == "PATCH" ? 5 : 8;
    case 6:
      return m == "DELETE" ? 4 : 8;
    case 7:
      return m == "OPTIONS" ? 6 : m == "CONNECT" ? 7 : 8;
    default:
      return 8;
  }
}

std::size_t code_index(int status) {
  return status >= 100 && status <= 599 ? static_cast<std::size_t>(status / 100) : 0;
}

std::size_t bucket_of(std::int64_t us) {
  std::size_t i = 0;
  while (i < kBucketBoundsUs.size() && us > kBucketBoundsUs[i])
    ++i;
  return i;
}

WorkerMetrics::WorkerMetrics() {
  for (std::size_t k = 0; k < kSeriesKinds; ++k) {
    stores_[k].width = cells_per_slot(static_cast<SeriesKind>(k));
    if (stores_[k].width == 0) continue;
    stores_[k].chunks = std::make_unique<std::atomic<Cell*>[]>(kChunks);
  }
}

WorkerMetrics::~WorkerMetrics() {
  for (Store& s : stores_) {
    if (!s.chunks) continue;
    for (std::size_t i = 0; i < kChunks; ++i) {
      if (Cell* c = s.chunks[i].load(std::memory_order_relaxed)) ::munmap(c, chunk_bytes(s.width));
    }
  }
}

// Chunks come straight from mmap: zero pages the kernel backs only once
// touched, so slots no request ever reaches cost address space, not memory.
void WorkerMetrics::reserve(const MetricsLayout& layout) {
  for (std::size_t k = 0; k < kSeriesKinds; ++k) {
    Store& s = stores_[k];
    if (!s.chunks) continue;
    const std::uint32_t slots = layout.extent(static_cast<SeriesKind>(k));
    const std::size_t needed = (slots + kSlotsPerChunk - 1) / kSlotsPerChunk;
    for (std::size_t i = 0; i < needed && i < kChunks; ++i) {
      if (s.chunks[i].load(std::memory_order_relaxed) != nullptr) continue;
      void* mem = ::mmap(nullptr, chunk_bytes(s.width), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mem == MAP_FAILED) throw std::bad_alloc();
      s.chunks[i].store(static_cast<Cell*>(mem), std::memory_order_release);
    }
  }
}

WorkerMetrics::Cell* WorkerMetrics::cells_of(SeriesKind kind, std::uint32_t slot) const {
  const Store& s = stores_[static_cast<std::size_t>(kind)];
  if (!s.chunks || slot / kSlotsPerChunk >= kChunks) return nullptr;
  Cell* chunk = s.chunks[slot / kSlotsPerChunk].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : chunk + (slot % kSlotsPerChunk) * s.width;
}

void WorkerMetrics::zero(SeriesKind kind, std::uint32_t slot) {
  Cell* c = cells_of(kind, slot);
  if (c == nullptr) return;
  const std::size_t width = stores_[static_cast<std::size_t>(kind)].width;
  for (std::size_t i = 0; i < width; ++i)
    std::atomic_ref<Cell>(c[i]).store(0, std::memory_order_relaxed);
}

void WorkerMetrics::adopt(std::shared_ptr<const MetricsLayout> layout) {
  if (layout) {
    for (const auto& [kind, slot] : layout->reused)
      zero(kind, slot);
  }
  layout_ = std::move(layout);
}

void WorkerMetrics::record(const RequestRecord& r) {
  const MetricsLayout* layout = layout_.get();
  if (layout == nullptr) return;
  const std::size_t code = code_index(r.status);
  // A route or backend without series (over the cap) must not pass for
  // "no route" or "no backend".
  const bool unnamed = (r.route_slot == kNoSlot && !r.route.empty()) ||
                       (r.backend_slot == kNoSlot && !r.backend.empty());
  const std::uint32_t key =
      unnamed ? kNoSlot : layout->request_slot(r.listener_slot, r.route_slot, r.backend_slot);
  if (Cell* c = key == kNoSlot ? nullptr : cells_of(SeriesKind::request, key)) {
    bump(c[method_index(r.method) * cells::kCodes + code]);
    bump(c[cells::kRequestBytesIn], r.bytes_in);
    bump(c[cells::kRequestBytesOut], r.bytes_out);
  } else {
    bump(unattributed_);
  }
  // Ids from an earlier configuration (a request that began before a
  // reload) count only where they still name the same thing.
  if (layout->current(SeriesKind::route, r.route_slot)) {
    if (Cell* c = cells_of(SeriesKind::route, slot_index(r.route_slot))) observe_us(c, r.total_us);
  }
  if (layout->current(SeriesKind::backend, r.backend_slot)) {
    if (Cell* c = cells_of(SeriesKind::backend, slot_index(r.backend_slot))) {
      for (std::size_t p = 0; p < r.failures.size(); ++p)
        if (r.failures[p] != 0) bump(c[p], r.failures[p]);
    }
  }
  if (layout->current(SeriesKind::server, r.server_slot)) {
    if (Cell* c = cells_of(SeriesKind::server, slot_index(r.server_slot))) {
      bump(c[code]);
      if (r.first_byte_us >= 0) observe_us(c + cells::kServerFirstByte, r.first_byte_us);
      if (r.connect_us >= 0) observe_us(c + cells::kServerConnect, r.connect_us);
      if (r.queue_us >= 0) observe_us(c + cells::kServerQueueWait, r.queue_us);
      if (r.reused_connection) bump(c[cells::kServerReused]);
    }
  }
}

std::uint64_t WorkerMetrics::get(SeriesKind kind, std::uint32_t slot, std::size_t cell) const {
  Cell* c = cells_of(kind, slot);
  return c == nullptr ? 0 : std::atomic_ref<Cell>(c[cell]).load(std::memory_order_relaxed);
}

std::uint64_t WorkerMetrics::unattributed() const {
  return std::atomic_ref<Cell>(const_cast<Cell&>(unattributed_)).load(std::memory_order_relaxed);
}

}  // namespace sluice::observe
