// The open client connections of one listener across every worker that
// serves it, and its cap (the listener's max_connections), as HAProxy's
// maxconn works. One per listener slot, shared by the slot's Listener on
// each worker; touched only when a connection is accepted or closed, never
// per request.
//
// At the cap a Listener stops calling accept() and parks here, so new
// connections wait in the kernel's accept queue rather than in our memory.
// The next close (or a reload that raises the cap) posts a resume to every
// parked Listener, on its own loop.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/log.h"

namespace sluice {

class EventLoop;
class Listener;

class ListenerCap {
 public:
  static constexpr std::size_t kUnlimited = SIZE_MAX;

  // `name`: the listener's, for the log line at the cap.
  explicit ListenerCap(std::string name, std::size_t limit = kUnlimited);
  ListenerCap(const ListenerCap&) = delete;
  ListenerCap& operator=(const ListenerCap&) = delete;

  // Any thread (a reload keeps the slot, so the count carries over): a new
  // name and cap. A higher cap resumes parked listeners; a lower one closes
  // nothing, new connections wait until enough have closed.
  void configure(std::string name, std::size_t limit);

  // Takes a place for a connection about to be accepted; false at the cap.
  bool try_take();
  // Any thread: returns a place (a connection closed, or an accept() that
  // found no connection) and resumes the listeners parked at the cap.
  void give_back();

  // Loop thread of `listener`, after try_take() failed: registers it for a
  // resume and logs (once a second at most) that the cap was reached.
  // Returns false when a place freed meanwhile: take it now instead.
  bool park(EventLoop& loop, Listener& listener);
  // Loop thread of `listener`: forgets it (it closed).
  void unpark(Listener& listener);

  std::size_t open() const { return open_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_.load(std::memory_order_relaxed); }

 private:
  void resume_parked();

  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> limit_;
  // Read by give_back() on every close: non-zero only while some listener
  // waits, so a close takes the mutex only at the cap.
  std::atomic<std::size_t> parked_count_{0};
  std::mutex mutex_;  // guards what follows
  struct Parked {
    EventLoop* loop;
    Listener* listener;
  };
  std::vector<Parked> parked_;
  std::string name_;
  LogThrottle full_log_;
};

}  // namespace sluice
