// The HTTP/2 connections of one worker, per destination (DestinationTable's
// key: an address and the transport to it). Unlike the HTTP/1 pool
// (upstream_pool.h), a connection here is never taken out: each exchange
// gets a stream on the oldest connection with room, so the load packs onto
// few connections; when every one is full (the server's
// SETTINGS_MAX_CONCURRENT_STREAMS), another is opened, up to a bound
// (the backend's pool.max_h2_connections) past
// which streams wait in the least busy connection for a free slot. A
// server's max_connections and queue still apply per request, as for
// HTTP/1 (UpstreamConnector::admit). Lives on its worker's thread.
#pragma once

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "http/h2_client_connection.h"
#include "proxy/backend.h"

namespace sluice {
class EventLoop;
}

namespace sluice::proxy {

class H2UpstreamConnection;

class H2UpstreamPool {
 public:
  explicit H2UpstreamPool(EventLoop& loop) : loop_(loop) {}
  ~H2UpstreamPool() { clear(); }
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;

  EventLoop& loop() { return loop_; }

  // The oldest connection to `d` that takes another stream, an open one
  // with room or one still connecting (the caller waits for it); null
  // when there is none.
  std::shared_ptr<H2UpstreamConnection> find(DestinationId d) const;
  // The open connection to `d` with the fewest streams (when every one is
  // full and no other may be opened), or null.
  std::shared_ptr<H2UpstreamConnection> least_busy(DestinationId d) const;
  // Connections to `d`, connecting ones included.
  std::size_t count(DestinationId d) const;
  // A new connection to `d` in state connecting, already offered to
  // others (they wait for it instead of opening their own).
  std::shared_ptr<H2UpstreamConnection> create(DestinationId d, const http::H2ClientLimits& limits,
                                               std::uint64_t io_timeout_ms,
                                               std::uint64_t idle_timeout_ms);
  // Forgets `c` (it closed, or drains after a GOAWAY).
  void remove(const H2UpstreamConnection& c);
  // Closes every connection (the worker stopped).
  void clear();
  std::size_t size() const;

 private:
  EventLoop& loop_;
  std::unordered_map<DestinationId, std::vector<std::shared_ptr<H2UpstreamConnection>>> by_dest_;
};

}  // namespace sluice::proxy
