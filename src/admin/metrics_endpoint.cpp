#include "admin/metrics_endpoint.h"

#include "observe/metrics_text.h"
#include "proxy/reloader.h"
#include "proxy/server.h"

namespace sluice::admin {

using observe::MetricType;

AdminResponse metrics_response(proxy::Server& server, proxy::Reloader& reloader) {
  observe::MetricsWriter out;
  server.write_metrics(out);
  const proxy::Reloader::Stats reloads = reloader.stats();
  out.family("sluice_config_reloads_total", MetricType::counter,
             "Reloads since start (SIGHUP, a change of the file, POST /config), by result.");
  out.sample("sluice_config_reloads_total", {{"result", "applied"}}, reloads.applied);
  out.sample("sluice_config_reloads_total", {{"result", "refused"}}, reloads.refused);
  out.family("sluice_config_last_reload_timestamp_seconds", MetricType::gauge,
             "When the last reload was tried (the start's time before any), Unix seconds.");
  out.sample("sluice_config_last_reload_timestamp_seconds", {},
             static_cast<double>(reloads.last_unix_us) / 1e6);
  out.family("sluice_config_last_reload_successful", MetricType::gauge,
             "1 when the last reload applied (or none was tried), 0 when it was refused.");
  out.sample("sluice_config_last_reload_successful", {},
             static_cast<std::uint64_t>(reloads.last_applied ? 1 : 0));
  return AdminResponse(200, std::string(observe::kMetricsContentType), out.take());
}

}  // namespace sluice::admin
