// One connection to a backend server. Between exchanges it sits in its
// worker's UpstreamPool, still watched by the event loop: if the server
// closes it or sends anything while it is idle, the pool drops it at once.
#pragma once

#include <cstdint>

#include "core/socket.h"
#include "proxy/backend.h"

namespace sluice::proxy {

class UpstreamPool;

class UpstreamConnection final : public IoHandler {
 public:
  UpstreamConnection(EventLoop& loop, int fd, DestinationId destination)
      : sock_(loop, fd), destination_(destination) {}
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  Socket& socket() { return sock_; }
  DestinationId destination() const { return destination_; }
  // Exchanges completed on this connection; > 0 means it is being reused.
  std::uint64_t exchanges() const { return exchanges_; }
  void count_exchange() { ++exchanges_; }
  void set_exchanges(std::uint64_t n) { exchanges_ = n; }
  // The server's own idle limit, from its "Keep-Alive: timeout=N" (0: none).
  void set_server_idle_timeout(std::uint64_t ms) { server_idle_timeout_ms_ = ms; }
  // When the connection last finished an exchange (loop clock).
  std::uint64_t idle_since_ms() const { return idle_since_ms_; }

 private:
  friend class UpstreamPool;
  // Idle only: readable means the server closed or sent stray bytes.
  void on_io(std::uint32_t events) override;

  Socket sock_;
  DestinationId destination_;
  std::uint64_t exchanges_ = 0;
  std::uint64_t server_idle_timeout_ms_ = 0;
  std::uint64_t idle_since_ms_ = 0;
  // While idle in a pool:
  UpstreamPool* pool_ = nullptr;
  std::uint64_t expires_ms_ = 0;
  UpstreamConnection* newer_ = nullptr;
  UpstreamConnection* older_ = nullptr;
};

}  // namespace sluice::proxy
