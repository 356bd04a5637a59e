#include "admin/server_control.h"

#include <time.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <cassert>
#include <string>

#include "balance/balancer.h"
#include "observe/json_text.h"
#include "proxy/backend.h"
#include "proxy/server.h"

namespace sluice::admin {
namespace {

using balance::AdminState;

AdminResponse reply(int status, std::string content_type, std::string body) {
  AdminResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

AdminResponse text(int status, std::string body) {
  return reply(status, "text/plain", std::move(body) + "\n");
}

// The clock of the workers' loops (CLOCK_MONOTONIC, in ms), which passive
// ejections are timed on.
std::uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

const char* algorithm_name(balance::Algorithm a) {
  switch (a) {
    case balance::Algorithm::least_conn:
      return "least_conn";
    case balance::Algorithm::random:
      return "random";
    case balance::Algorithm::p2c:
      return "p2c";
    case balance::Algorithm::hash:
      return "hash";
    case balance::Algorithm::round_robin:
      break;
  }
  return "round_robin";
}

const char* admin_state_name(AdminState s) {
  switch (s) {
    case AdminState::draining:
      return "draining";
    case AdminState::disabled:
      return "disabled";
    case AdminState::enabled:
      break;
  }
  return "enabled";
}

// What the balancer makes of the server, the operator's state aside: its
// name does not resolve, its checks fail, passive health ejected it, or up.
const char* health_name(const balance::ServerState& st, std::uint64_t now_ms) {
  if (!st.resolved.load(std::memory_order_relaxed)) return "unresolved";
  if (!st.healthy.load(std::memory_order_relaxed)) return "down";
  if (st.ejected_until_ms.load(std::memory_order_relaxed) > now_ms) return "ejected";
  return "up";
}

std::string server_json(const proxy::Backend& up, int s, std::uint64_t now_ms) {
  const balance::Balancer& b = *up.balancer;
  const balance::ServerState& st = b.state(s);
  // The file's weight is shown only when an operator set another.
  const std::string configured = b.weight_of(s) == b.spec(s).weight
                                     ? std::string()
                                     : fmt::format(", \"configured_weight\": {}", b.spec(s).weight);
  return fmt::format(
      "{{\"address\": {}, \"weight\": {}{}, \"backup\": {}, \"health\": \"{}\", "
      "\"admin_state\": \"{}\", \"in_flight\": {}}}",
      json_string(b.spec(s).address), b.weight_of(s), configured,
      b.spec(s).backup ? "true" : "false", health_name(st, now_ms),
      admin_state_name(st.admin.load(std::memory_order_relaxed)),
      st.in_flight.load(std::memory_order_relaxed));
}

// %XX escapes decoded, so a name holding '/' can be given as %2F. False
// for a malformed escape or a control character (no configured name has
// one, and it would be echoed into the answer).
bool percent_decode(std::string_view in, std::string& out) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size() || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) return false;
    out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
    i += 2;
  }
  for (const char c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::optional<AdminState> requested_state(std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  body = body.substr(first, body.find_last_not_of(" \t\r\n") - first + 1);
  if (body == "drain") return AdminState::draining;
  if (body == "disable") return AdminState::disabled;
  if (body == "enable") return AdminState::enabled;
  return std::nullopt;
}

// NAME and ADDRESS as written in a server path; nullopt for another path.
struct RawServerPath {
  std::string_view backend;
  std::string_view server;
};

std::optional<RawServerPath> split_server_path(std::string_view path, std::string_view action) {
  constexpr std::string_view kPrefix = "/backends/";
  constexpr std::string_view kServers = "/servers/";
  if (!path.starts_with(kPrefix) || !path.ends_with(action)) return std::nullopt;
  const std::size_t suffix = action.size() + 1;  // "/state"
  if (path.size() < kPrefix.size() + suffix || path[path.size() - suffix] != '/') {
    return std::nullopt;
  }
  const std::string_view rest = path.substr(kPrefix.size());
  const auto servers_at = rest.find(kServers);
  // "/servers/" must end before "/ACTION" starts, not share its '/'.
  if (servers_at == std::string_view::npos || servers_at + kServers.size() + suffix > rest.size()) {
    return std::nullopt;
  }
  const std::size_t server_at = servers_at + kServers.size();
  return RawServerPath{rest.substr(0, servers_at),
                       rest.substr(server_at, rest.size() - suffix - server_at)};
}

}  // namespace

std::string json_string(std::string_view s) {
  return observe::json_quoted(s);
}

bool is_server_path(std::string_view path, std::string_view action) {
  return split_server_path(path, action).has_value();
}

std::variant<ServerPath, AdminResponse> parse_server_path(std::string_view target,
                                                          std::string_view action) {
  const auto path = split_server_path(path_of(target), action);
  assert(path && "route() sends server paths only");
  if (!path)
    return text(404, fmt::format("not found; use /backends/NAME/servers/ADDRESS/{}", action));
  ServerPath names;
  if (!percent_decode(path->backend, names.backend) ||
      !percent_decode(path->server, names.server)) {
    return text(400, "malformed %-escape or a control character in the path");
  }
  return names;
}

std::variant<StateChange, AdminResponse> parse_state_change(std::string_view target,
                                                            std::string_view body) {
  auto names = parse_server_path(target, "state");
  if (auto* answer = std::get_if<AdminResponse>(&names)) return std::move(*answer);
  StateChange change;
  change.backend = std::move(std::get<ServerPath>(names).backend);
  change.server = std::move(std::get<ServerPath>(names).server);
  const std::optional<AdminState> wanted = requested_state(body);
  if (!wanted) return text(400, "the body must be one of: drain, disable, enable");
  change.state = *wanted;
  return change;
}

std::string server_json(const proxy::Backend& backend, int server) {
  return server_json(backend, server, monotonic_ms());
}

AdminResponse change_server(const ServerPath& where, proxy::Server& server,
                            const ServerChange& change) {
  AdminResponse r = text(404, "no backend '" + where.backend + "'");
  server.visit_backends([&](const std::vector<std::shared_ptr<const proxy::Backend>>& ups) {
    for (const auto& up : ups) {
      if (up->name != where.backend) continue;
      r = text(404, "backend '" + where.backend + "' has no server " + where.server);
      const balance::Balancer& b = *up->balancer;
      for (std::size_t i = 0; i < b.size(); ++i) {
        if (b.spec(static_cast<int>(i)).address == where.server)
          r = change(*up, static_cast<int>(i));
      }
      return;
    }
  });
  return r;
}

AdminResponse list_backends(proxy::Server& server) {
  const std::uint64_t now_ms = monotonic_ms();
  std::string body = "{\"backends\": [";
  server.visit_backends([&](const std::vector<std::shared_ptr<const proxy::Backend>>& ups) {
    for (std::size_t i = 0; i < ups.size(); ++i) {
      const proxy::Backend& up = *ups[i];
      body += fmt::format("{}\n  {{\"name\": {}, \"balance\": \"{}\", \"servers\": [", i ? "," : "",
                          json_string(up.name), algorithm_name(up.balancer->algorithm()));
      for (std::size_t s = 0; s < up.balancer->size(); ++s) {
        body += (s ? ",\n    " : "\n    ") + server_json(up, static_cast<int>(s), now_ms);
      }
      body += "\n  ]}";
    }
  });
  return reply(200, "application/json", body + "\n]}\n");
}

AdminResponse apply_state_change(const StateChange& change, proxy::Server& server) {
  return change_server(
      {change.backend, change.server}, server, [&](const proxy::Backend& up, int s) {
        const AdminState was =
            up.balancer->state(s).admin.exchange(change.state, std::memory_order_relaxed);
        spdlog::warn("backend '{}' server {}: {} (was {}), by the admin API", change.backend,
                     change.server, admin_state_name(change.state), admin_state_name(was));
        return reply(200, "application/json", server_json(up, s) + "\n");
      });
}

}  // namespace sluice::admin
