#include "proxy/upstream_pool.h"

#include <unistd.h>

#include <algorithm>

namespace sluice::proxy {
namespace {
// Expired idle connections are closed by a sweep at most this often, so a
// pool costs one timer, not one per connection.
constexpr std::uint64_t kSweepEveryMs = 250;
}  // namespace

void UpstreamConnection::on_io(std::uint32_t) {
  // Idle and readable: the server closed (EOF), reset, or sent bytes no
  // request asked for, and then the connection cannot carry a request; or
  // the transport got something it handles itself (a TLS session ticket),
  // and then it can. The stream tells which.
  if (pool_ != nullptr && !stream().idle_still_usable()) pool_->drop(this);
}

UpstreamPool::UpstreamPool(EventLoop& loop, std::size_t destinations)
    : loop_(loop),
      shared_counts_size_(destinations),
      shared_counts_(new std::atomic<std::uint32_t>[destinations]) {
  for (std::size_t i = 0; i < destinations; ++i)
    shared_counts_[i].store(0, std::memory_order_relaxed);
  sweep_.pool = this;
  sweep_.set_callback(&UpstreamPool::on_sweep);
}

UpstreamPool::~UpstreamPool() {
  clear();
}

void UpstreamPool::clear() {
  if (sweep_.armed()) loop_.timers().cancel(sweep_);
  for (auto& s : slots_) {
    while (s.oldest != nullptr)
      drop(s.oldest);
  }
}

void UpstreamPool::retire(DestinationId d) {
  if (d >= slots_.size()) return;
  while (slots_[d].oldest != nullptr)
    drop(slots_[d].oldest);
}

UpstreamPool::Slot& UpstreamPool::slot(DestinationId d) {
  if (d >= slots_.size()) slots_.resize(d + 1);
  return slots_[d];
}

void UpstreamPool::publish_count(DestinationId d, std::uint32_t n) {
  if (d < shared_counts_size_) shared_counts_[d].store(n, std::memory_order_relaxed);
}

std::uint32_t UpstreamPool::idle_count(DestinationId d) const {
  return d < shared_counts_size_ ? shared_counts_[d].load(std::memory_order_relaxed) : 0;
}

void UpstreamPool::link_newest(UpstreamConnection* c) {
  Slot& s = slot(c->destination_);
  c->pool_ = this;
  c->older_ = s.newest;
  c->newer_ = nullptr;
  if (s.newest != nullptr) s.newest->newer_ = c;
  s.newest = c;
  if (s.oldest == nullptr) s.oldest = c;
  ++s.count;
  ++idle_total_;
  publish_count(c->destination_, s.count);
  c->stream().set_idle_handler(c);
  arm_sweep();
}

void UpstreamPool::unlink(UpstreamConnection* c) {
  Slot& s = slot(c->destination_);
  if (c->newer_ != nullptr) c->newer_->older_ = c->older_;
  if (c->older_ != nullptr) c->older_->newer_ = c->newer_;
  if (s.newest == c) s.newest = c->older_;
  if (s.oldest == c) s.oldest = c->newer_;
  c->newer_ = c->older_ = nullptr;
  c->pool_ = nullptr;
  c->stream().set_idle_handler(nullptr);
  --s.count;
  --idle_total_;
  publish_count(c->destination_, s.count);
}

void UpstreamPool::drop(UpstreamConnection* c) {
  unlink(c);
  delete c;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::take(DestinationId d, std::uint64_t max_idle_ms) {
  if (d >= slots_.size()) return nullptr;
  Slot& s = slots_[d];
  while (s.newest != nullptr) {
    UpstreamConnection* c = s.newest;
    // The newest is the freshest: if it is too old, so are the others.
    const std::uint64_t now = loop_.now_ms();
    if (now > c->idle_since_ms_ && now - c->idle_since_ms_ > max_idle_ms) return nullptr;
    unlink(c);
    // Bytes or a close the idle watch could not see (an adopted connection
    // starts with unknown readiness) make it useless: a new request would
    // read them as its response.
    if (!c->stream().idle_still_usable() || c->expires_ms_ <= loop_.now_ms()) {
      delete c;
      continue;
    }
    return std::unique_ptr<UpstreamConnection>(c);
  }
  return nullptr;
}

void UpstreamPool::put(std::unique_ptr<UpstreamConnection> conn, const PoolSettings& settings) {
  if (settings.max_idle_per_server == 0 || settings.idle_timeout_ms == 0) return;  // closes
  // Bytes after the response, already queued when it was read (a read that
  // filled the buffer exactly leaves them unseen), would answer the next
  // request: such a connection is closed, not pooled. The idle watch
  // below only sees what arrives from now on.
  if (!conn->stream().idle_still_usable()) return;
  conn->stream().shed_buffers();
  Slot& s = slot(conn->destination_);
  while (s.count >= settings.max_idle_per_server && s.oldest != nullptr)
    drop(s.oldest);
  UpstreamConnection* c = conn.release();
  const std::uint64_t now = loop_.now_ms();
  c->idle_since_ms_ = now;
  c->expires_ms_ = now + settings.idle_timeout_ms;
  if (c->server_idle_timeout_ms_ > 0) {
    // Retire it before the server's own "Keep-Alive: timeout" would close
    // it under a request: a quarter early, at most a second.
    const std::uint64_t margin = std::min<std::uint64_t>(c->server_idle_timeout_ms_ / 4, 1'000);
    c->expires_ms_ = std::min(c->expires_ms_, now + c->server_idle_timeout_ms_ - margin);
  }
  link_newest(c);
}

UpstreamPool::Handover UpstreamPool::give_away(DestinationId d) {
  auto c = take(d);
  if (!c) return {};
  Handover h;
  h.expires_ms = c->expires_ms_;
  h.idle_since_ms = c->idle_since_ms_;
  h.exchanges = c->exchanges_;
  h.connection = c->release();
  return h;
}

void UpstreamPool::adopt(DestinationId d, Handover h) {
  if (h.connection.fd < 0) return;
  auto* c = h.connection.ssl != nullptr ? new UpstreamConnection(loop_, h.connection, d)
                                        : new UpstreamConnection(loop_, h.connection.fd, d);
  c->exchanges_ = h.exchanges;
  // The two loops' clocks are the same monotonic clock read at different
  // moments: close enough for an idle deadline.
  c->expires_ms_ = h.expires_ms;
  c->idle_since_ms_ = h.idle_since_ms;
  link_newest(c);
}

void UpstreamPool::arm_sweep() {
  if (!sweep_.armed()) loop_.timers().schedule(sweep_, loop_.now_ms() + kSweepEveryMs);
}

void UpstreamPool::on_sweep(Timer* t) {
  UpstreamPool* pool = static_cast<SweepTimer*>(t)->pool;
  const std::uint64_t now = pool->loop_.now_ms();
  for (auto& s : pool->slots_) {
    // Oldest first: the first one still valid ends the scan of this slot
    // (expiry grows toward the newest, give or take adopted connections).
    while (s.oldest != nullptr && s.oldest->expires_ms_ <= now)
      pool->drop(s.oldest);
  }
  if (pool->idle_total_ > 0) pool->arm_sweep();
}

}  // namespace sluice::proxy
