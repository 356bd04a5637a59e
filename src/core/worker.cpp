#include "core/worker.h"

#include <malloc.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/frame_allocator.h"
#include "core/log.h"

namespace sluice {
namespace {

// How often, while there is traffic, unused cached memory is looked for;
// memory a burst took is given back one to two periods after it ends.
constexpr std::uint64_t kReclaimPeriodMs = 500;
// Frames of each size kept once traffic stops: a few requests' worth, so
// the next one does not start with malloc.
constexpr std::size_t kIdleFramesPerClass = 4;
// The allocator is asked to return its free pages (malloc_trim) only after
// this much was freed: below it, the walk over its free lists costs more
// than the pages are worth.
constexpr std::size_t kTrimAfterBytes = 256 * 1024;
// A bulk buffer holds what loopback delivers at once (64 KiB): a /64k
// response moved in 2 reads and sends instead of 5 cost 15-18 % less CPU
// (docs/benchmarks.md, "Large bodies"). Few are cached: only exchanges
// whose body is in full flow hold one.
constexpr std::size_t kBulkBufferBytes = 64 * 1024;
constexpr std::size_t kBulkMaxCached = 128;
constexpr std::size_t kBulkIdleCached = 1;

}  // namespace

// ---- ConnectionScope ----

ConnectionScope::ConnectionScope(Worker& worker, std::size_t listener_index, ListenerCap* cap)
    : worker_(worker), cap_(cap), listener_index_(static_cast<std::uint32_t>(listener_index)) {
  worker_.link(*this);
}

ConnectionScope::~ConnectionScope() {
  // The connection's descriptor is closed by now: its place is free.
  if (cap_ != nullptr) cap_->give_back();
  worker_.unlink(*this);
  worker_.finish_if_drained();
}

void ConnectionScope::set_idle(bool idle) {
  idle_ = idle;
  if (idle && worker_.closing_idle_) token_.cancel();
}

// ---- Worker ----

Worker::Worker(unsigned index, ConnectionHandler handler, std::size_t buffer_bytes)
    : index_(index),
      handler_(std::move(handler)),
      buffers_(buffer_bytes),
      bulk_buffers_(std::max(buffer_bytes, kBulkBufferBytes), kBulkMaxCached, kBulkIdleCached) {
  grace_timer_.worker = this;
  grace_timer_.set_callback([](Timer* t) {
    Worker* w = static_cast<GraceTimer*>(t)->worker;
    spdlog::warn("worker {}: grace period over, closing {} connection(s)", w->index_,
                 w->connections_);
    w->cancel_all();
  });
  idle_timer_.worker = this;
  idle_timer_.set_callback(
      [](Timer* t) { static_cast<GraceTimer*>(t)->worker->close_idle_connections(); });
  reclaim_timer_.worker = this;
  reclaim_timer_.set_callback([](Timer* t) { static_cast<GraceTimer*>(t)->worker->reclaim(); });
  const BufferPool::ActivityHook lent = [](void* w) { static_cast<Worker*>(w)->arm_reclaim(); };
  buffers_.set_activity_hook(lent, this);
  bulk_buffers_.set_activity_hook(lent, this);
}

Worker::~Worker() {
  join();
  for (auto& slot : listeners_) {
    if (!slot.listener && slot.fd >= 0) ::close(slot.fd);
  }
}

void Worker::add_listener(std::size_t listener_index, int fd, std::shared_ptr<ListenerCap> cap) {
  listeners_.push_back(ListenerSlot{listener_index, fd, std::move(cap), nullptr});
}

void Worker::open_listener(std::size_t listener_index, int fd, std::shared_ptr<ListenerCap> cap) {
  auto listener = std::make_unique<Listener>(loop_, fd, cap);
  listeners_.push_back(ListenerSlot{listener_index, fd, std::move(cap), std::move(listener)});
  if (stopping_) {
    listeners_.back().listener->close();
    return;
  }
  ++accept_loops_;
  spawn(accept_loop(listeners_.size() - 1));
}

void Worker::close_listener(std::size_t listener_index) {
  for (auto& slot : listeners_) {
    if (slot.listener_index == listener_index && slot.listener) slot.listener->close();
  }
  for (auto* c = head_; c != nullptr;) {
    auto* next = c->next_;
    if (c->idle_ && c->listener_index_ == listener_index) c->token_.cancel();
    c = next;
  }
}

void Worker::stop_accepting() {
  for (auto& slot : listeners_) {
    if (slot.listener) slot.listener->close();
  }
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::request_stop(std::uint64_t grace_ms, std::uint64_t idle_close_after_ms) {
  loop_.post([this, grace_ms, idle_close_after_ms] { begin_stop(grace_ms, idle_close_after_ms); });
}

std::size_t Worker::idle_connection_count() const {
  std::size_t n = 0;
  for (auto* c = head_; c != nullptr; c = c->next_)
    n += c->idle_ ? 1 : 0;
  return n;
}

void Worker::count_idle_by_listener(std::vector<std::size_t>& counts) const {
  for (auto* c = head_; c != nullptr; c = c->next_) {
    if (!c->idle_) continue;
    if (counts.size() <= c->listener_index_) counts.resize(c->listener_index_ + 1);
    ++counts[c->listener_index_];
  }
}

void Worker::run() {
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    listeners_[i].listener = std::make_unique<Listener>(loop_, listeners_[i].fd, listeners_[i].cap);
    ++accept_loops_;
    spawn(accept_loop(i));
  }
  loop_.run();
}

namespace {

// How long a worker stops accepting on a listener after accept(2) ran out
// of descriptors or memory. The connection waits in the kernel's queue; a
// close elsewhere frees what the next try needs.
constexpr std::uint64_t kAcceptBackoffMs = 100;

// Shared by every worker and listener: when descriptors run out, they all
// fail together, and one line a second says so.
LogThrottle accept_failure_log;

}  // namespace

Task<void> Worker::accept_loop(std::size_t slot) {
  Listener& listener = *listeners_[slot].listener;
  const std::size_t listener_index = listeners_[slot].listener_index;
  ListenerCap* cap = listeners_[slot].cap.get();
  while (!stopping_) {
    auto accepted = co_await listener.accept();
    if (!accepted) {
      if (accepted.code() == Errc::cancelled) break;
      // Out of descriptors or memory: pause this listener, never spin.
      if (const std::uint64_t times = accept_failure_log.note(loop_.now_ms())) {
        spdlog::error(
            "worker {}: cannot accept on {}: {}; accepting paused for {} ms ({} pause(s) since "
            "the last message)",
            index_, listener.local_address().to_string(), std::strerror(accepted.error().sys_errno),
            kAcceptBackoffMs, times);
      }
      co_await sleep_for(loop_, kAcceptBackoffMs);
      continue;
    }
    serve(listener_index, cap, accepted->fd, accepted->peer);
  }
  --accept_loops_;
  finish_if_drained();
}

void Worker::serve(std::size_t listener_index, ListenerCap* cap, int fd,
                   const SocketAddress& peer) {
  if (scoping_handler_) {
    spawn(scoping_handler_(*this, listener_index, cap, fd, peer));
  } else {
    serve_in_scope(listener_index, cap, fd);
  }
}

Detached Worker::serve_in_scope(std::size_t listener_index, ListenerCap* cap, int fd) {
  ConnectionScope scope(*this, listener_index, cap);
  co_await handler_(scope, fd);
}

void Worker::close_idle_connections() {
  closing_idle_ = true;
  // Idle keep-alive connections have nothing in flight: close them now.
  for (auto* c = head_; c != nullptr;) {
    auto* next = c->next_;
    if (c->idle_) c->token_.cancel();
    c = next;
  }
}

void Worker::begin_stop(std::uint64_t grace_ms, std::uint64_t idle_close_after_ms) {
  if (!stopping_) {
    stopping_ = true;
    for (auto& slot : listeners_) {
      if (slot.listener) slot.listener->close();
    }
  }
  if (idle_close_after_ms == 0 || grace_ms == 0) {
    loop_.timers().cancel(idle_timer_);
    close_idle_connections();
  } else if (!closing_idle_) {
    loop_.timers().schedule(idle_timer_, loop_.now_ms() + idle_close_after_ms);
  }
  if (grace_ms == 0) {
    cancel_all();
  } else {
    loop_.timers().schedule(grace_timer_, loop_.now_ms() + grace_ms);
  }
  finish_if_drained();
}

void Worker::cancel_all() {
  for (auto* c = head_; c != nullptr; c = c->next_)
    c->token_.cancel();
}

void Worker::finish_if_drained() {
  if (stopping_ && connections_ == 0 && accept_loops_ == 0) {
    loop_.timers().cancel(grace_timer_);
    loop_.timers().cancel(idle_timer_);
    loop_.timers().cancel(reclaim_timer_);
    loop_.stop();
  }
}

void Worker::arm_reclaim() {
  if (!reclaim_timer_.armed() && !stopping_) {
    loop_.timers().schedule(reclaim_timer_, loop_.now_ms() + kReclaimPeriodMs);
  }
}

// Loop thread, from the reclaim timer. Buffers and frames that stayed
// cached through a whole period were not needed by that period's traffic:
// they go (a few of each are kept). Buffers are unmapped at once; frames go
// back to malloc, which keeps freed memory, so once traffic has dropped
// (something was unused, or nothing is lent) and enough was freed,
// malloc_trim hands its free pages to the system. During a burst nothing
// is unused, so nothing is given back then. Runs again while there is
// traffic or something was freed, then sleeps until the next buffer is lent.
void Worker::reclaim() {
  const bool lent = buffers_.active() || bulk_buffers_.active();
  const std::size_t unused = buffers_.trim_unused() + bulk_buffers_.trim_unused() +
                             trim_unused_frames(kIdleFramesPerClass);
  heap_freed_bytes_ += unused + take_frame_overflow_bytes();
  const bool traffic = buffers_.in_use() > 0 || bulk_buffers_.in_use() > 0;
  if (heap_freed_bytes_ >= kTrimAfterBytes && (unused > 0 || !traffic)) {
    ::malloc_trim(0);
    heap_freed_bytes_ = 0;
  }
  if (lent || unused > 0 || traffic) arm_reclaim();
}

void Worker::link(ConnectionScope& c) {
  c.next_ = head_;
  if (head_ != nullptr) head_->prev_ = &c;
  head_ = &c;
  ++connections_;
}

void Worker::unlink(ConnectionScope& c) {
  if (c.prev_ != nullptr) c.prev_->next_ = c.next_;
  if (c.next_ != nullptr) c.next_->prev_ = c.prev_;
  if (head_ == &c) head_ = c.next_;
  c.prev_ = c.next_ = nullptr;
  --connections_;
}

}  // namespace sluice
