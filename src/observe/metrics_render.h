// The families counted from finished requests, summed over every worker.
#pragma once

#include <span>

#include "observe/metrics_layout.h"
#include "observe/metrics_text.h"
#include "observe/worker_metrics.h"

namespace sluice::observe {

// Writes the request families of `layout` (the configuration in force)
// from `workers`' counts, and the families about the series themselves
// (sluice_metrics_*). Call it while no worker can adopt another layout.
// Series of routes and request keys appear once a request has counted in
// them; those of listeners, backends and servers always.
void render_request_metrics(const MetricsLayout& layout,
                            std::span<const WorkerMetrics* const> workers, MetricsWriter& out);

}  // namespace sluice::observe
