#include "proxy/snapshot.h"

#include <thread>

#include "config/model.h"

namespace sluice::proxy {

std::shared_ptr<const Snapshot> Snapshot::build(const config::Config& config) {
  auto snap = std::make_shared<Snapshot>();
  snap->workers = config.workers > 0 ? static_cast<unsigned>(config.workers)
                                     : std::max(1u, std::thread::hardware_concurrency());
  for (const auto& lc : config.listeners) {
    ListenerSettings ls;
    ls.name = lc.name;
    ls.listen = lc.listen;
    ls.http = lc.protocol == config::Protocol::http;
    ls.header_timeout_ms = static_cast<std::uint64_t>(lc.timeouts.header.count());
    ls.idle_timeout_ms = static_cast<std::uint64_t>(lc.timeouts.idle.count());
    ls.body_timeout_ms = ls.idle_timeout_ms;
    ls.max_request_line = lc.max_request_line;
    ls.max_head_bytes = lc.max_header_size;
    ls.max_fields = lc.max_header_count;
    ls.max_body_bytes = lc.max_body_size;
    ls.keep_alive_header = lc.keep_alive_header;
    ls.keep_alive_fields = "Connection: keep-alive\r\nKeep-Alive: timeout=" +
                           std::to_string(ls.idle_timeout_ms / 1000) + "\r\n";
    snap->listeners.push_back(std::move(ls));
  }
  snap->routes = route::RouteTable::build(config);
  return snap;
}

}  // namespace sluice::proxy
