// The idle backend connections of one worker, per destination, most
// recently used first. Lives on its worker's thread; the only other way in
// is PoolGroup, which asks through the event loop's post().
#pragma once

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/timer_wheel.h"
#include "proxy/upstream_connection.h"

namespace sluice::proxy {

class UpstreamPool {
 public:
  // `destinations`: how many destination ids other workers may ask about.
  UpstreamPool(EventLoop& loop, std::size_t destinations);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  EventLoop& loop() { return loop_; }

  // The most recently used idle connection to `destination`, or null;
  // with `max_idle_ms`, only one idle for at most that long.
  std::unique_ptr<UpstreamConnection> take(DestinationId destination,
                                           std::uint64_t max_idle_ms = UINT64_MAX);
  // Keeps a connection that ended an exchange cleanly; closes the least
  // recently used one beyond `settings.max_idle_per_server`.
  void put(std::unique_ptr<UpstreamConnection> conn, const PoolSettings& settings);
  // Idle connections to `destination` here (any thread; approximate).
  std::uint32_t idle_count(DestinationId destination) const;
  std::size_t idle_total() const { return idle_total_; }
  // Closes every idle connection (worker stopping).
  void clear();
  // Closes the idle connections to `destination` (its server now resolves
  // to another address).
  void retire(DestinationId destination);

  // Cross-worker hand-over (see PoolGroup). give_away runs on this pool's
  // thread and returns a descriptor no longer watched here (-1: none);
  // adopt runs on the receiving pool's thread.
  struct Handover {
    tls::TlsStream::Released connection;  // fd < 0: nothing was given
    std::uint64_t expires_ms = 0;
    std::uint64_t idle_since_ms = 0;
    std::uint64_t exchanges = 0;
  };
  Handover give_away(DestinationId destination);
  void adopt(DestinationId destination, Handover h);

 private:
  friend class UpstreamConnection;
  struct Slot {
    UpstreamConnection* newest = nullptr;
    UpstreamConnection* oldest = nullptr;
    std::uint32_t count = 0;
  };
  Slot& slot(DestinationId d);
  void unlink(UpstreamConnection* c);
  void link_newest(UpstreamConnection* c);
  void drop(UpstreamConnection* c);  // unlink and destroy
  void publish_count(DestinationId d, std::uint32_t n);
  void arm_sweep();
  static void on_sweep(Timer* t);

  EventLoop& loop_;
  std::vector<Slot> slots_;
  std::size_t idle_total_ = 0;
  // Read by other workers to find a donor; one writer (this thread).
  std::size_t shared_counts_size_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> shared_counts_;
  struct SweepTimer : Timer {
    UpstreamPool* pool = nullptr;
  } sweep_;
};

}  // namespace sluice::proxy
