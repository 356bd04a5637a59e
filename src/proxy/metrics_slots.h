// The glue between a configuration and its series (observe/): which
// listeners, routes, backends and servers get a metrics slot, written into
// the snapshot's objects so that a request carries them into its record,
// and the layout the workers count under. Runs where snapshots are built
// (start-up and reloads), never on the request path.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "observe/metrics_layout.h"
#include "observe/series_registry.h"

namespace sluice::config {
struct Config;
}

namespace sluice::proxy {

struct Snapshot;

// The slots of one configuration's names, by position in it.
struct MetricsSlots {
  std::vector<std::uint32_t> listeners;
  std::vector<std::uint32_t> routes;
  std::vector<std::uint32_t> backends;
  std::vector<std::vector<std::uint32_t>> servers;  // by backend, then server
  // The request keys: (listener, route, backend) slots and the key's slot.
  std::vector<observe::MetricsLayout::Request> requests;
  std::vector<std::uint32_t> request_slots;
  observe::SeriesRegistry::Outcome outcome;
};

// Assigns slots to `config`'s names in `registry`, within
// `config.metrics.max_series`: listeners first, then the requests no route
// takes, backends and their servers, then routes in file order, each with
// its request keys.
MetricsSlots assign_metrics_slots(const config::Config& config, observe::SeriesRegistry& registry);

// Once `snap` is built with `slots`: the layout its workers count under.
std::shared_ptr<const observe::MetricsLayout> metrics_layout(
    const config::Config& config, const MetricsSlots& slots, const Snapshot& snap,
    const observe::SeriesRegistry& registry);

// Warns, once per configuration loaded, when names got no series.
void warn_about_series_cap(const observe::MetricsLayout& layout);

}  // namespace sluice::proxy
