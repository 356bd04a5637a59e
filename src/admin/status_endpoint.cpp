#include "admin/status_endpoint.h"

#include <fmt/format.h>
#include <chrono>
#include <cstdint>

#include "admin/endpoints.h"
#include "observe/wall_clock.h"
#include "proxy/reloader.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice::admin {
namespace {

// Taken while the process starts (static initialisation), for the uptime.
const std::uint64_t kStartedUnixUs = observe::unix_now_us();
const std::chrono::steady_clock::time_point kStarted = std::chrono::steady_clock::now();

std::string seconds(std::uint64_t unix_us) {
  return fmt::format("{:.3f}", static_cast<double>(unix_us) / 1e6);
}

std::string listeners_json(const proxy::Snapshot& snap) {
  std::string out = "[";
  for (std::size_t i = 0; i < snap.listeners.size(); ++i) {
    const proxy::ListenerSettings& l = *snap.listeners[i];
    out += fmt::format(
        "{}\n    {{\"name\": {}, \"listen\": {}, \"protocol\": \"{}\", \"tls\": {}, \"h2\": {}}}",
        i ? "," : "", json_string(l.name), json_string(l.listen), l.http ? "http" : "tcp",
        l.tls ? "true" : "false", l.h2 ? "true" : "false");
  }
  return out + "]";
}

std::string last_reload_json(const proxy::Reloader& reloader) {
  const auto last = reloader.last_reload();
  if (!last) return "null";
  std::string messages = "[";
  for (std::size_t i = 0; i < last->outcome.messages.size(); ++i)
    messages += (i ? ", " : "") + json_string(last->outcome.messages[i]);
  return fmt::format(
      "{{\"result\": \"{}\", \"origin\": {}, \"at\": {}, \"summary\": {}, \"messages\": {}]}}",
      last->outcome.applied ? "applied" : "refused", json_string(last->origin),
      seconds(last->at_unix_us), json_string(last->outcome.summary), messages);
}

}  // namespace

std::string status_json(const proxy::Server& server, const proxy::Reloader& reloader) {
  const std::shared_ptr<const proxy::Snapshot> snap = server.snapshot();
  std::size_t servers = 0;
  for (const auto& b : snap->backends)
    servers += b->servers.size();
  const auto uptime = std::chrono::steady_clock::now() - kStarted;
  return fmt::format(
      "{{\n  \"version\": {},\n  \"started_at\": {},\n  \"now\": {},\n  \"uptime_seconds\": {},\n"
      "  \"generation\": {},\n  \"workers\": {},\n  \"routes\": {},\n  \"backends\": {},\n"
      "  \"servers\": {},\n  \"listeners\": {},\n  \"last_reload\": {}\n}}\n",
      json_string(SLUICE_VERSION), seconds(kStartedUnixUs), seconds(observe::unix_now_us()),
      std::chrono::duration_cast<std::chrono::seconds>(uptime).count(), snap->generation,
      snap->workers, snap->routes->size(), snap->backends.size(), servers, listeners_json(*snap),
      last_reload_json(reloader));
}

}  // namespace sluice::admin
