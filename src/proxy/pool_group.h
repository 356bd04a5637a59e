// The upstream pools of all workers. When a worker has no idle connection
// to a destination and another worker has one, it asks that worker for it
// (through its event loop, never by touching its pool) instead of opening a
// new connection, so connections follow the load between workers.
#pragma once

#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/waiter.h"
#include "proxy/upstream_pool.h"

namespace sluice::proxy {

class PoolGroup {
 public:
  // Pools are indexed by worker; they must outlive the group's use.
  explicit PoolGroup(std::vector<UpstreamPool*> pools) : pools_(std::move(pools)) {}

  // The worker holding the most idle connections to `destination`, other
  // than `self`, or none.
  std::optional<std::size_t> donor_for(std::size_t self, DestinationId destination) const;

  // On worker `self`'s thread: asks `donor` for one idle connection; resumes
  // when it has arrived in self's pool (or the donor had none left), or after
  // `timeout_ms`. Then take() from self's pool.
  struct Borrow {
    PoolGroup* group;
    std::size_t self;
    std::size_t donor;
    DestinationId destination;
    std::uint64_t timeout_ms;
    CancelToken* cancel;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    void await_resume() const noexcept {}

    struct Reply;
    std::shared_ptr<Reply> reply = nullptr;
  };
  Borrow borrow(std::size_t self, std::size_t donor, DestinationId destination,
                std::uint64_t timeout_ms, CancelToken* cancel) {
    return Borrow{this, self, donor, destination, timeout_ms, cancel, nullptr};
  }

  UpstreamPool& pool(std::size_t worker) { return *pools_[worker]; }
  std::size_t size() const { return pools_.size(); }

 private:
  std::vector<UpstreamPool*> pools_;
};

}  // namespace sluice::proxy
