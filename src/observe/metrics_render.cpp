#include "observe/metrics_render.h"

#include <map>
#include <string>
#include <vector>

namespace sluice::observe {
namespace {

struct Summer {
  std::span<const WorkerMetrics* const> workers;
  std::uint64_t operator()(SeriesKind kind, std::uint32_t slot, std::size_t cell) const {
    std::uint64_t n = 0;
    for (const WorkerMetrics* w : workers)
      n += w->get(kind, slot, cell);
    return n;
  }
  // Buckets of the histogram at `first`; returns the sum in seconds.
  double histogram(SeriesKind kind, std::uint32_t slot, std::size_t first,
                   std::array<std::uint64_t, kBuckets>& buckets) const {
    for (std::size_t b = 0; b < kBuckets; ++b)
      buckets[b] = (*this)(kind, slot, first + b);
    return static_cast<double>((*this)(kind, slot, first + kBuckets)) / 1e6;
  }
};

// The name of id `id` (a request key's part); "" for none.
std::string_view name_of(const std::vector<std::string>& names, std::uint32_t id) {
  if (id == kNoSlot) return {};
  const std::uint32_t i = slot_index(id);
  return i < names.size() ? std::string_view(names[i]) : std::string_view();
}

void render_requests(const MetricsLayout& layout, const Summer& sum, MetricsWriter& out) {
  out.family("sluice_requests_total", MetricType::counter,
             "Requests finished, by listener, route, backend, method and status class.");
  // Bytes are by listener and route: the request keys of one pair add up.
  std::map<std::pair<std::string_view, std::string_view>, std::pair<std::uint64_t, std::uint64_t>>
      bytes;
  for (std::uint32_t slot = 0; slot < layout.requests.size(); ++slot) {
    if (slot >= layout.request_live.size() || !layout.request_live[slot]) continue;
    const MetricsLayout::Request& r = layout.requests[slot];
    const std::string_view listener = name_of(layout.listeners, r.listener);
    const std::string_view route = name_of(layout.routes, r.route);
    const std::string_view backend = name_of(layout.backends, r.backend);
    bool any = false;
    for (std::size_t m = 0; m < cells::kMethods; ++m) {
      for (std::size_t c = 0; c < cells::kCodes; ++c) {
        const std::uint64_t n = sum(SeriesKind::request, slot, m * cells::kCodes + c);
        if (n == 0) continue;
        any = true;
        out.sample("sluice_requests_total",
                   {{"listener", listener},
                    {"route", route},
                    {"backend", backend},
                    {"method", kMethodNames[m]},
                    {"code", kCodeNames[c]}},
                   n);
      }
    }
    if (!any) continue;
    auto& b = bytes[{listener, route}];
    b.first += sum(SeriesKind::request, slot, cells::kRequestBytesIn);
    b.second += sum(SeriesKind::request, slot, cells::kRequestBytesOut);
  }
  out.family("sluice_received_bytes_total", MetricType::counter,
             "Request bytes (head and body) read from clients, by listener and route.");
  for (const auto& [key, b] : bytes)
    out.sample("sluice_received_bytes_total", {{"listener", key.first}, {"route", key.second}},
               b.first);
  out.family("sluice_sent_bytes_total", MetricType::counter,
             "Response bytes (head and body) written to clients, by listener and route.");
  for (const auto& [key, b] : bytes)
    out.sample("sluice_sent_bytes_total", {{"listener", key.first}, {"route", key.second}},
               b.second);
}

void render_routes(const MetricsLayout& layout, const Summer& sum, MetricsWriter& out) {
  out.family("sluice_request_duration_seconds", MetricType::histogram,
             "Time from a request's first byte to its response's last, by route.");
  std::array<std::uint64_t, kBuckets> buckets{};
  for (std::uint32_t slot = 0; slot < layout.routes.size(); ++slot) {
    if (layout.routes[slot].empty()) continue;
    const double seconds = sum.histogram(SeriesKind::route, slot, 0, buckets);
    std::uint64_t count = 0;
    for (auto b : buckets)
      count += b;
    if (count == 0) continue;
    const Label labels[] = {{"route", layout.routes[slot]}};
    out.histogram("sluice_request_duration_seconds", labels, buckets, kBucketBoundsSeconds,
                  seconds);
  }
}

void render_backends(const MetricsLayout& layout, const Summer& sum, MetricsWriter& out) {
  out.family("sluice_retries_total", MetricType::counter,
             "Tries to a backend's servers that failed, by the phase they failed in "
             "(each is retried while attempts remain).");
  static constexpr std::array<std::string_view, 3> kPhases{"connect", "send", "await"};
  for (std::uint32_t slot = 0; slot < layout.backends.size(); ++slot) {
    if (layout.backends[slot].empty()) continue;
    for (std::size_t p = 0; p < kPhases.size(); ++p)
      out.sample("sluice_retries_total",
                 {{"backend", layout.backends[slot]}, {"phase", kPhases[p]}},
                 sum(SeriesKind::backend, slot, p));
  }
}

void render_servers(const MetricsLayout& layout, const Summer& sum, MetricsWriter& out) {
  const auto each = [&](auto&& fn) {
    for (std::uint32_t slot = 0; slot < layout.servers.size(); ++slot) {
      const MetricsLayout::Server& s = layout.servers[slot];
      if (s.backend.empty()) continue;
      fn(slot, s);
    }
  };
  out.family("sluice_server_requests_total", MetricType::counter,
             "Requests answered by a server (the last one tried), by status class.");
  each([&](std::uint32_t slot, const MetricsLayout::Server& s) {
    for (std::size_t c = 0; c < cells::kCodes; ++c) {
      const std::uint64_t n = sum(SeriesKind::server, slot, c);
      if (n == 0) continue;
      out.sample("sluice_server_requests_total",
                 {{"backend", s.backend}, {"server", s.address}, {"code", kCodeNames[c]}}, n);
    }
  });
  std::array<std::uint64_t, kBuckets> buckets{};
  const auto histograms = [&](std::string_view name, std::string_view help, std::size_t first) {
    out.family(name, MetricType::histogram, help);
    each([&](std::uint32_t slot, const MetricsLayout::Server& s) {
      const double seconds = sum.histogram(SeriesKind::server, slot, first, buckets);
      const Label labels[] = {{"backend", s.backend}, {"server", s.address}};
      out.histogram(name, labels, buckets, kBucketBoundsSeconds, seconds);
    });
  };
  histograms("sluice_first_byte_seconds",
             "Time from a request's first byte to the first byte of the server's response head.",
             cells::kServerFirstByte);
  histograms("sluice_connect_seconds", "Time to open a connection to the server.",
             cells::kServerConnect);
  histograms("sluice_queue_wait_seconds",
             "Time requests waited in the queue for a slot at the server's max_connections "
             "(only requests that waited and got one).",
             cells::kServerQueueWait);
  out.family("sluice_server_pool_reuse_total", MetricType::counter,
             "Requests sent to the server on a pooled connection that carried one before.");
  each([&](std::uint32_t slot, const MetricsLayout::Server& s) {
    out.sample("sluice_server_pool_reuse_total", {{"backend", s.backend}, {"server", s.address}},
               sum(SeriesKind::server, slot, cells::kServerReused));
  });
}

}  // namespace

void render_request_metrics(const MetricsLayout& layout,
                            std::span<const WorkerMetrics* const> workers, MetricsWriter& out) {
  const Summer sum{workers};
  render_requests(layout, sum, out);
  render_routes(layout, sum, out);
  render_backends(layout, sum, out);
  render_servers(layout, sum, out);
  out.family("sluice_metrics_series", MetricType::gauge,
             "Listeners, routes, backends, servers and request keys with series now.");
  out.sample("sluice_metrics_series", {}, static_cast<std::uint64_t>(layout.in_use));
  out.family("sluice_metrics_series_limit", MetricType::gauge,
             "The most series keys sluice hands out (metrics.max_series).");
  out.sample("sluice_metrics_series_limit", {}, static_cast<std::uint64_t>(layout.max_series));
  out.family("sluice_metrics_series_refused", MetricType::gauge,
             "Names of the configuration in force without series: over metrics.max_series.");
  out.sample("sluice_metrics_series_refused", {}, static_cast<std::uint64_t>(layout.refused));
  out.family("sluice_metrics_unattributed_requests_total", MetricType::counter,
             "Requests counted under no series (their listener, route or backend has none).");
  std::uint64_t unattributed = 0;
  for (const WorkerMetrics* w : workers)
    unattributed += w->unattributed();
  out.sample("sluice_metrics_unattributed_requests_total", {}, unattributed);
}

}  // namespace sluice::observe
