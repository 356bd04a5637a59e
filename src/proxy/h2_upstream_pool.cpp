#include "proxy/h2_upstream_pool.h"

#include <algorithm>

#include "proxy/h2_upstream_connection.h"

namespace sluice::proxy {

std::shared_ptr<H2UpstreamConnection> H2UpstreamPool::find(DestinationId d) const {
  const auto it = by_dest_.find(d);
  if (it == by_dest_.end()) return nullptr;
  std::shared_ptr<H2UpstreamConnection> connecting;
  for (const auto& c : it->second) {
    if (c->capacity() > 0) return c;
    if (!connecting && c->state() == H2UpstreamConnection::State::connecting) connecting = c;
  }
  return connecting;
}

std::shared_ptr<H2UpstreamConnection> H2UpstreamPool::least_busy(DestinationId d) const {
  const auto it = by_dest_.find(d);
  if (it == by_dest_.end()) return nullptr;
  std::shared_ptr<H2UpstreamConnection> best;
  for (const auto& c : it->second) {
    if (c->state() != H2UpstreamConnection::State::open) continue;
    if (!best || c->streams() < best->streams()) best = c;
  }
  return best;
}

std::size_t H2UpstreamPool::count(DestinationId d) const {
  const auto it = by_dest_.find(d);
  return it == by_dest_.end() ? 0 : it->second.size();
}

std::shared_ptr<H2UpstreamConnection> H2UpstreamPool::create(DestinationId d,
                                                             const http::H2ClientLimits& limits,
                                                             std::uint64_t io_timeout_ms,
                                                             std::uint64_t idle_timeout_ms) {
  auto c = std::make_shared<H2UpstreamConnection>(loop_, *this, d, limits, io_timeout_ms,
                                                  idle_timeout_ms);
  by_dest_[d].push_back(c);
  return c;
}

void H2UpstreamPool::remove(const H2UpstreamConnection& c) {
  const auto it = by_dest_.find(c.destination());
  if (it == by_dest_.end()) return;
  std::erase_if(it->second, [&c](const auto& p) { return p.get() == &c; });
  if (it->second.empty()) by_dest_.erase(it);
}

void H2UpstreamPool::clear() {
  std::vector<std::shared_ptr<H2UpstreamConnection>> all;
  for (auto& [d, list] : by_dest_)
    all.insert(all.end(), list.begin(), list.end());
  by_dest_.clear();
  for (auto& c : all)
    c->close("the worker stopped");
}

std::size_t H2UpstreamPool::size() const {
  std::size_t n = 0;
  for (const auto& [d, list] : by_dest_)
    n += list.size();
  return n;
}

}  // namespace sluice::proxy
