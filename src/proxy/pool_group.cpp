#include "proxy/pool_group.h"

#include <unistd.h>

namespace sluice::proxy {

// Lives until the donor's answer has been handled on the borrower's thread,
// whether or not the borrower still waits for it.
struct PoolGroup::Borrow::Reply {
  Waiter waiter;
  Waiter* pending = nullptr;  // cleared when the waiter ends (answer, timeout, cancel)
};

std::optional<std::size_t> PoolGroup::donor_for(std::size_t self, DestinationId destination) const {
  std::optional<std::size_t> best;
  std::uint32_t most = 0;
  for (std::size_t w = 0; w < pools_.size(); ++w) {
    if (w == self) continue;
    const std::uint32_t n = pools_[w]->idle_count(destination);
    if (n > most) {
      most = n;
      best = w;
    }
  }
  return best;
}

bool PoolGroup::Borrow::await_suspend(std::coroutine_handle<> h) {
  reply = std::make_shared<Reply>();
  Reply& r = *reply;
  UpstreamPool& mine = group->pool(self);
  if (!r.waiter.begin(mine.loop(), h, timeout_ms, cancel)) return false;
  r.pending = &r.waiter;
  r.waiter.owner_slot = &r.pending;
  UpstreamPool* donor_pool = &group->pool(donor);
  UpstreamPool* my_pool = &mine;
  const DestinationId d = destination;
  std::shared_ptr<Reply> answer = reply;
  donor_pool->loop().post([donor_pool, my_pool, d, answer] {
    const UpstreamPool::Handover given = donor_pool->give_away(d);
    my_pool->loop().post([my_pool, d, given, answer] {
      my_pool->adopt(d, given);
      if (answer->pending != nullptr) answer->pending->finish(Errc::ok);
    });
  });
  return true;
}

}  // namespace sluice::proxy
