#include "admin/metrics_endpoint.h"

#include "fleet/etcd_provider.h"
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
  if (const auto etcd = fleet::etcd_source_status()) {
    out.family("sluice_config_source_up", MetricType::gauge,
               "1 when the last request to the configuration source succeeded, else 0.");
    out.sample("sluice_config_source_up", {{"source", "etcd"}},
               static_cast<std::uint64_t>(etcd->up ? 1 : 0));
    out.family("sluice_config_source_revision", MetricType::gauge,
               "The source's revision of the configuration in force.");
    out.sample("sluice_config_source_revision", {{"source", "etcd"}},
               static_cast<std::uint64_t>(etcd->revision));
    out.family("sluice_config_source_errors_total", MetricType::counter,
               "Failed requests to the source, and configurations from it that were refused.");
    out.sample("sluice_config_source_errors_total", {{"source", "etcd"}}, etcd->errors);
  }
  return AdminResponse(200, std::string(observe::kMetricsContentType), out.take());
}

}  // namespace sluice::admin
