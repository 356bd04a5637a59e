// One worker's counts of finished requests, by slot index (series_registry.h).
// Only its worker writes them, with a plain load and store (the Counter
// idea, through std::atomic_ref): no locked instruction and no lock on the
// request path. A scrape reads every worker's counts from its own thread
// and sums them.
//
// Counts live in chunks of kSlotsPerChunk slots behind a table of atomic
// pointers: a chunk, once there, never moves, so a scrape never reads
// memory a worker has reallocated. Chunks are added by the thread that
// builds a configuration (reserve()) before any worker can count in them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "observe/metrics_layout.h"
#include "observe/request_record.h"
#include "observe/series_registry.h"

namespace sluice::observe {

// Upper bounds of the latency histograms' buckets, in microseconds and in
// seconds; one more bucket (+Inf) takes the rest.
inline constexpr std::array<std::int64_t, 15> kBucketBoundsUs{
    500,     1'000,   2'500,     5'000,     10'000,    25'000,     50'000,    100'000,
    250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000};
inline constexpr std::array<double, 15> kBucketBoundsSeconds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
inline constexpr std::size_t kBuckets = kBucketBoundsUs.size() + 1;

// The cells of each kind's slot.
namespace cells {
inline constexpr std::size_t kMethods = 9;  // GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT other
inline constexpr std::size_t kCodes = 6;    // none 1xx 2xx 3xx 4xx 5xx
// A histogram: kBuckets counts, then the sum of the observations in µs.
inline constexpr std::size_t kHistogram = kBuckets + 1;
// request: requests by method and code, then bytes received and sent.
inline constexpr std::size_t kRequestBytesIn = kMethods * kCodes;
inline constexpr std::size_t kRequestBytesOut = kRequestBytesIn + 1;
inline constexpr std::size_t kRequest = kRequestBytesOut + 1;
// route: the request duration histogram.
inline constexpr std::size_t kRoute = kHistogram;
// backend: failed tries by phase (connect, send, await).
inline constexpr std::size_t kBackend = static_cast<std::size_t>(FailurePhase::count);
// server: requests by code, time to first byte, connect time, pool reuse.
inline constexpr std::size_t kServerFirstByte = kCodes;
inline constexpr std::size_t kServerConnect = kServerFirstByte + kHistogram;
inline constexpr std::size_t kServerQueueWait = kServerConnect + kHistogram;
inline constexpr std::size_t kServerReused = kServerQueueWait + kHistogram;
inline constexpr std::size_t kServer = kServerReused + 1;
}  // namespace cells

std::size_t cells_per_slot(SeriesKind kind);
// "GET".."CONNECT" -> 0..7, anything else 8 ("other").
std::size_t method_index(std::string_view method);
extern const std::array<std::string_view, cells::kMethods> kMethodNames;
// 0 for no status, else the status class (1..5); out of range: 0.
std::size_t code_index(int status);
extern const std::array<std::string_view, cells::kCodes> kCodeNames;
std::size_t bucket_of(std::int64_t us);

class WorkerMetrics {
 public:
  static constexpr std::uint32_t kSlotsPerChunk = 256;
  WorkerMetrics();
  ~WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // The building thread, before `layout` is published: chunks for every
  // slot it names.
  void reserve(const MetricsLayout& layout);
  // The worker's thread (or before it runs): count from now on under
  // `layout`, its reused slots zeroed first. Layouts are adopted in the
  // order they were built.
  void adopt(std::shared_ptr<const MetricsLayout> layout);
  // The worker's thread: counts one finished request. A handful of
  // increments; no allocation, no lookup by name.
  void record(const RequestRecord& r);

  // Any thread: one cell of the slot at `index` (0 without a chunk).
  std::uint64_t get(SeriesKind kind, std::uint32_t index, std::size_t cell) const;
  // Requests whose listener, route and backend ids have no request key
  // (over the cap, or a request that began under a configuration a
  // reload has since replaced, naming something it removed).
  std::uint64_t unattributed() const;

 private:
  using Cell = std::uint64_t;
  struct Store {
    std::size_t width = 0;
    std::unique_ptr<std::atomic<Cell*>[]> chunks;
  };
  static constexpr std::size_t kChunks = (kMaxSlotsPerKind + kSlotsPerChunk - 1) / kSlotsPerChunk;
  Cell* cells_of(SeriesKind kind, std::uint32_t index) const;
  void zero(SeriesKind kind, std::uint32_t index);

  std::array<Store, kSeriesKinds> stores_;
  std::shared_ptr<const MetricsLayout> layout_;
  Cell unattributed_ = 0;
};

}  // namespace sluice::observe
