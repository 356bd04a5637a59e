#include "proxy/metrics_slots.h"

#include <spdlog/spdlog.h>

#include "config/model.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

using observe::kNoSlot;
using observe::SeriesKind;
using Key = observe::SeriesRegistry::Key;

// Names are joined with NUL, which no configured name holds.
std::string joined(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string s;
  s.reserve(a.size() + b.size() + c.size() + 2);
  s.append(a).append(1, '\0').append(b).append(1, '\0').append(c);
  return s;
}

// What each key is, to read the slots back.
struct Wanted {
  enum class What : std::uint8_t { listener, backend, server, route, request } what;
  std::size_t a = 0;          // listener, backend or route position
  std::size_t b = 0;          // server position; a request's listener position
  bool with_backend = false;  // a request key: the route's backend (else none)
  bool no_route = false;      // a request key: no route matched
};

bool http_listener(const config::Listener& l) {
  return l.protocol == config::Protocol::http;
}

// The positions of the listeners route `r` serves.
std::vector<std::size_t> listeners_of(const config::Config& config, const config::Route& r) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& l = config.listeners[i];
    if (!http_listener(l)) continue;
    if (r.listeners.empty() ||
        std::find(r.listeners.begin(), r.listeners.end(), l.name) != r.listeners.end()) {
      out.push_back(i);
    }
  }
  return out;
}

std::size_t backend_position(const config::Config& config, const std::string& name) {
  for (std::size_t i = 0; i < config.backends.size(); ++i)
    if (config.backends[i].name == name) return i;
  return SIZE_MAX;
}

}  // namespace

MetricsSlots assign_metrics_slots(const config::Config& config, observe::SeriesRegistry& registry) {
  std::vector<Key> keys;
  std::vector<Wanted> wanted;
  const auto add = [&](SeriesKind kind, std::string name, Wanted w) {
    keys.push_back({kind, std::move(name)});
    wanted.push_back(w);
  };
  using What = Wanted::What;
  for (std::size_t i = 0; i < config.listeners.size(); ++i)
    add(SeriesKind::listener, config.listeners[i].name, {What::listener, i});
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    if (!http_listener(config.listeners[i])) continue;
    add(SeriesKind::request, joined(config.listeners[i].name, ""),
        {What::request, SIZE_MAX, i, false, true});
  }
  for (std::size_t b = 0; b < config.backends.size(); ++b) {
    const auto& bc = config.backends[b];
    add(SeriesKind::backend, bc.name, {What::backend, b});
    for (std::size_t s = 0; s < bc.servers.size(); ++s)
      add(SeriesKind::server, joined(bc.name, bc.servers[s].address), {What::server, b, s});
  }
  for (std::size_t r = 0; r < config.routes.size(); ++r) {
    const auto& rc = config.routes[r];
    add(SeriesKind::route, rc.name, {What::route, r});
    for (const std::size_t l : listeners_of(config, rc)) {
      const std::string& ln = config.listeners[l].name;
      if (rc.backend)
        add(SeriesKind::request, joined(ln, rc.name, *rc.backend), {What::request, r, l, true});
      add(SeriesKind::request, joined(ln, rc.name), {What::request, r, l, false});
    }
  }

  MetricsSlots out;
  out.outcome = registry.assign(keys, config.metrics.max_series);
  out.listeners.assign(config.listeners.size(), kNoSlot);
  out.routes.assign(config.routes.size(), kNoSlot);
  out.backends.assign(config.backends.size(), kNoSlot);
  out.servers.resize(config.backends.size());
  for (std::size_t b = 0; b < config.backends.size(); ++b)
    out.servers[b].assign(config.backends[b].servers.size(), kNoSlot);
  // Listeners, backends and servers first: request keys name their slots.
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const Wanted& w = wanted[k];
    const std::uint32_t slot = out.outcome.slots[k];
    switch (w.what) {
      case What::listener:
        out.listeners[w.a] = slot;
        break;
      case What::backend:
        out.backends[w.a] = slot;
        break;
      case What::server:
        out.servers[w.a][w.b] = slot;
        break;
      case What::route:
        out.routes[w.a] = slot;
        break;
      case What::request:
        break;
    }
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const Wanted& w = wanted[k];
    const std::uint32_t slot = out.outcome.slots[k];
    if (w.what != What::request || slot == kNoSlot) continue;
    observe::MetricsLayout::Request req;
    req.listener = out.listeners[w.b];
    if (!w.no_route) req.route = out.routes[w.a];
    if (w.with_backend) {
      const std::size_t b = backend_position(config, *config.routes[w.a].backend);
      req.backend = b == SIZE_MAX ? kNoSlot : out.backends[b];
    }
    // A key whose parts have no series of their own would stand for
    // another key: requests there are counted as unattributed instead.
    if (req.listener == kNoSlot || (!w.no_route && req.route == kNoSlot) ||
        (w.with_backend && req.backend == kNoSlot)) {
      continue;
    }
    out.requests.push_back(req);
    out.request_slots.push_back(slot);
  }
  return out;
}

std::shared_ptr<const observe::MetricsLayout> metrics_layout(
    const config::Config& config, const MetricsSlots& slots, const Snapshot& snap,
    const observe::SeriesRegistry& registry) {
  auto layout = std::make_shared<observe::MetricsLayout>();
  for (std::size_t k = 0; k < observe::kSeriesKinds; ++k)
    layout->ids[k].assign(registry.extent(static_cast<SeriesKind>(k)), kNoSlot);
  layout->listeners.resize(registry.extent(SeriesKind::listener));
  layout->routes.resize(registry.extent(SeriesKind::route));
  layout->backends.resize(registry.extent(SeriesKind::backend));
  layout->servers.resize(registry.extent(SeriesKind::server));
  layout->requests.resize(registry.extent(SeriesKind::request));
  layout->request_live.assign(layout->requests.size(), false);
  for (const auto& ls : snap.listeners) {
    if (ls->metrics_slot == kNoSlot) continue;
    layout->assign(SeriesKind::listener, ls->metrics_slot);
    layout->listeners[observe::slot_index(ls->metrics_slot)] = ls->name;
  }
  for (std::size_t rank = 0; rank < snap.routes->size(); ++rank) {
    const route::Route& route = *snap.routes->at(rank);
    if (route.metrics_slot == kNoSlot) continue;
    layout->assign(SeriesKind::route, route.metrics_slot);
    layout->routes[observe::slot_index(route.metrics_slot)] = route.name;
  }
  for (const auto& up : snap.backends) {
    if (up->metrics_slot != kNoSlot) {
      layout->assign(SeriesKind::backend, up->metrics_slot);
      layout->backends[observe::slot_index(up->metrics_slot)] = up->name;
    }
    for (const BackendServer& s : up->servers) {
      if (s.metrics_slot == kNoSlot) continue;
      layout->assign(SeriesKind::server, s.metrics_slot);
      layout->servers[observe::slot_index(s.metrics_slot)] = {up->name, s.address};
    }
  }
  for (std::size_t i = 0; i < slots.requests.size(); ++i) {
    const std::uint32_t id = slots.request_slots[i];
    layout->assign(SeriesKind::request, id);
    layout->requests[observe::slot_index(id)] = slots.requests[i];
    layout->request_live[observe::slot_index(id)] = true;
  }
  layout->index_requests();
  layout->max_series = config.metrics.max_series;
  layout->in_use = slots.outcome.in_use;
  layout->refused = slots.outcome.refused;
  layout->reused = slots.outcome.reused;
  return layout;
}

void warn_about_series_cap(const observe::MetricsLayout& layout) {
  if (layout.refused == 0) return;
  spdlog::warn(
      "metrics: {} listener(s), route(s), backend(s), server(s) or request key(s) get no series: "
      "metrics.max_series ({}) is reached; their requests count in "
      "sluice_metrics_unattributed_requests_total",
      layout.refused, layout.max_series);
}

}  // namespace sluice::proxy
