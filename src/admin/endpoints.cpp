#include "admin/endpoints.h"

#include <malloc.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cstdio>

#include "admin/certificates.h"
#include "admin/config_endpoint.h"
#include "admin/dashboard.h"
#include "admin/metrics_endpoint.h"
#include "admin/route_explain.h"
#include "admin/route_list.h"
#include "admin/runtime_weight.h"
#include "admin/server_control.h"
#include "admin/status_endpoint.h"
#include "proxy/reloader.h"
#include "proxy/server.h"

namespace sluice::admin {
namespace {

// Resident set size from /proc/self/statm (its second field, in pages).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0;
  unsigned long resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

AdminResponse apply_config(std::string_view body, proxy::Reloader& reloader) {
  const proxy::Reloader::Outcome outcome = reloader.apply_text(body, "POST /config");
  AdminResponse r;
  for (const auto& m : outcome.messages)
    r.body += m + "\n";
  if (outcome.applied) {
    r.body += "applied: " + outcome.summary + "\n";
  } else {
    r.status = 400;
    r.body += "not applied: the running configuration is unchanged\n";
  }
  return r;
}

}  // namespace

std::string memory_json(proxy::Server& server) {
  const proxy::Server::MemoryReport m = server.memory_report();
  // The allocator's view: bytes handed out, and bytes it holds free
  // (fragmentation, or pages it keeps for reuse).
  const struct mallinfo2 heap = ::mallinfo2();
  proxy::Server::WorkerMemory total;
  std::string workers;
  for (const auto& w : m.workers) {
    total.client_active += w.client_active;
    total.client_idle += w.client_idle;
    total.backend_in_use += w.backend_in_use;
    total.backend_idle += w.backend_idle;
    total.buffers_in_use += w.buffers_in_use;
    total.buffers_cached += w.buffers_cached;
    total.bulk_buffers_in_use += w.bulk_buffers_in_use;
    total.bulk_buffers_cached += w.bulk_buffers_cached;
    total.frames_cached_bytes += w.frames_cached_bytes;
    workers += fmt::format(
        "{}{{\"client_active\": {}, \"client_idle\": {}, \"backend_in_use\": {}, "
        "\"backend_idle\": {}, \"buffers_in_use\": {}, \"buffers_cached\": {}, "
        "\"bulk_buffers_in_use\": {}, \"bulk_buffers_cached\": {}, \"frames_cached_bytes\": {}}}",
        workers.empty() ? "" : ", ", w.client_active, w.client_idle, w.backend_in_use,
        w.backend_idle, w.buffers_in_use, w.buffers_cached, w.bulk_buffers_in_use,
        w.bulk_buffers_cached, w.frames_cached_bytes);
  }
  return fmt::format(
      "{{\n"
      "  \"resident_bytes\": {},\n"
      "  \"heap\": {{\"in_use_bytes\": {}, \"free_bytes\": {}, \"mapped_bytes\": {}}},\n"
      "  \"configuration\": {{\"generation\": {}, \"snapshots_alive\": {}, "
      "\"route_tables_alive\": {}, \"routes\": {}, \"routes_alive\": {}, \"backends\": {}, "
      "\"backends_alive\": {}, \"regexes_cached\": {}}},\n"
      "  \"client_connections\": {{\"active\": {}, \"idle\": {}}},\n"
      "  \"backend_connections\": {{\"in_use\": {}, \"idle\": {}}},\n"
      "  \"buffers\": {{\"in_use\": {}, \"cached\": {}, \"bytes_each\": {}, \"bytes_in_use\": "
      "{}}},\n"
      "  \"bulk_buffers\": {{\"in_use\": {}, \"cached\": {}, \"bytes_each\": {}}},\n"
      "  \"frames\": {{\"cached_bytes\": {}}},\n"
      "  \"workers\": [{}],\n"
      "  \"complete\": {}\n"
      "}}\n",
      resident_bytes(), heap.uordblks + heap.hblkhd, heap.fordblks, heap.hblkhd, m.generation,
      m.snapshots_alive, m.route_tables_alive, m.routes, m.routes_alive, m.backends,
      m.backends_alive, m.regexes_cached, total.client_active, total.client_idle,
      total.backend_in_use, total.backend_idle, total.buffers_in_use, total.buffers_cached,
      m.buffer_bytes, total.buffers_in_use * m.buffer_bytes, total.bulk_buffers_in_use,
      total.bulk_buffers_cached, m.bulk_buffer_bytes, total.frames_cached_bytes, workers,
      m.workers.empty() ? "false" : "true");
}

AdminResponse method_not_allowed(std::string allow, std::string text) {
  AdminResponse r(405, "text/plain", std::move(text));
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

std::variant<Endpoint, AdminResponse> route(std::string_view method, std::string_view target) {
  const std::string_view path = path_of(target);
  // HEAD gets GET's fields; the connection leaves the body out.
  const bool reads = method == "GET" || method == "HEAD";
  if (path == "/backends") {
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return Endpoint::backends;
  }
  if (path.starts_with("/backends/") && is_server_path(path, "weight")) {
    if (method != "PUT" && method != "POST") {
      return method_not_allowed("PUT, POST", "use PUT (or POST) with a weight from 0 to 256\n");
    }
    return Endpoint::weight;
  }
  if (path == "/routes/explain") {
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return Endpoint::explain;
  }
  if (path.starts_with("/backends/")) {
    if (!is_state_path(path)) {
      return AdminResponse(404, "text/plain",
                           "not found; use POST /backends/NAME/servers/ADDRESS/state\n");
    }
    if (method != "POST" && method != "PUT") {
      return method_not_allowed("POST, PUT",
                                "use POST (or PUT) with drain, disable or enable as the body\n");
    }
    return Endpoint::server_state;
  }
  if (path == "/metrics") {
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return Endpoint::metrics;
  }
  if (path == "/debug/memory") {
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return Endpoint::memory;
  }
  if (path == "/tls/certificates") {
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return Endpoint::certificates;
  }
  if (path.starts_with("/tls/certificates/")) {
    if (certificate_listener(path).empty()) {
      return AdminResponse(404, "text/plain", "not found; use PUT /tls/certificates/LISTENER\n");
    }
    if (method != "PUT") {
      return method_not_allowed("PUT", "use PUT with a PEM chain and key as the body\n");
    }
    return Endpoint::certificate;
  }
  for (const auto& [where, endpoint] :
       {std::pair{"/status", Endpoint::status}, std::pair{"/routes", Endpoint::routes}}) {
    if (path != where) continue;
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return endpoint;
  }
  if (is_dashboard_path(path)) {
    if (!reads) return method_not_allowed("GET, HEAD", "use GET\n");
    return Endpoint::dashboard;
  }
  if (path == "/config") {
    if (reads) return Endpoint::config_text;
    if (method != "POST") {
      return method_not_allowed("GET, HEAD, POST",
                                "use GET, or POST with a configuration as the body\n");
    }
    return Endpoint::config;
  }
  return AdminResponse(
      404, "text/plain",
      "not found; try GET /debug/memory, GET /backends or POST /config (docs/operations.md)\n");
}

AdminResponse handle_request(std::string_view method, std::string_view target,
                             std::string_view body, proxy::Server& server,
                             proxy::Reloader& reloader) {
  const auto routed = route(method, target);
  if (const auto* answer = std::get_if<AdminResponse>(&routed)) return *answer;
  switch (std::get<Endpoint>(routed)) {
    case Endpoint::memory:
      return {200, "application/json", memory_json(server)};
    case Endpoint::config:
      return apply_config(body, reloader);
    case Endpoint::backends:
      return list_backends(server);
    case Endpoint::certificates:
      return list_certificates(server);
    case Endpoint::certificate:
      return install_certificate(certificate_listener(path_of(target)), body, server);
    case Endpoint::dashboard:
      return dashboard_file(path_of(target));
    case Endpoint::status:
      return {200, "application/json", status_json(server, reloader)};
    case Endpoint::routes: {
      const auto query = parse_route_query(target);
      if (const auto* answer = std::get_if<AdminResponse>(&query)) return *answer;
      return list_routes(std::get<RouteQuery>(query), server);
    }
    case Endpoint::weight:
      return change_weight(target, body, server);
    case Endpoint::config_text:
      return config_in_force(target, reloader);
    case Endpoint::explain:
      return explain_route(target, server);
    case Endpoint::metrics:
      return metrics_response(server, reloader);
    case Endpoint::server_state:
      break;
  }
  const auto change = parse_state_change(target, body);
  if (const auto* answer = std::get_if<AdminResponse>(&change)) return *answer;
  return apply_state_change(std::get<StateChange>(change), server);
}

}  // namespace sluice::admin
