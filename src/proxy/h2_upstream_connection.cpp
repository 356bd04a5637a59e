#include "proxy/h2_upstream_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/byte_stream.h"
#include "core/event_loop.h"
#include "proxy/h2_upstream_pool.h"
#include "proxy/upstream_connection.h"

namespace sluice::proxy {
namespace {

// Frames written in one go, at most.
constexpr std::size_t kWriteBatch = 64 * 1024;
// What one read takes from the server.
constexpr std::size_t kReadBytes = 16 * 1024;

H2UpstreamStream& stream_of(http::H2ClientStreamState& s) {
  return *static_cast<H2UpstreamStream*>(s.user);
}

}  // namespace

H2UpstreamConnection::H2UpstreamConnection(EventLoop& loop, H2UpstreamPool& pool,
                                           DestinationId destination,
                                           const http::H2ClientLimits& limits,
                                           std::uint64_t io_timeout_ms,
                                           std::uint64_t idle_timeout_ms)
    : loop_(loop),
      pool_(pool),
      destination_(destination),
      io_timeout_ms_(io_timeout_ms),
      idle_timeout_ms_(idle_timeout_ms),
      codec_(limits, *this) {
  idle_timer_.conn = this;
  idle_timer_.set_callback(&H2UpstreamConnection::on_idle_timeout);
}

H2UpstreamConnection::~H2UpstreamConnection() {
  loop_.timers().cancel(idle_timer_);
  if (conn_) conn_->stream().set_idle_handler(nullptr);
}

// ---- connecting

void H2UpstreamConnection::start(std::unique_ptr<UpstreamConnection> conn) {
  conn_ = std::move(conn);
  // The connection outlives the exchange that connected it: its waits end
  // with its own close, never with that client's leaving.
  conn_->stream().bind_cancel(nullptr);
  if (state_ == State::closed) return;
  wake_up();
}

void H2UpstreamConnection::fail_connect(const char* why) {
  close(why);
}

Task<bool> H2UpstreamConnection::wait_open(std::uint64_t timeout_ms, CancelToken* cancel) {
  // The caller holds a reference: `this` lives across the wait.
  Signal opened;
  waiters_.push_back(&opened);
  const Errc woke = co_await opened.wait(loop_, timeout_ms, cancel);
  if (woke != Errc::ok) std::erase(waiters_, &opened);
  co_return woke == Errc::ok&& state_ == State::open;
}

void H2UpstreamConnection::notify_waiters() {
  std::vector<Signal*> waiters;
  waiters.swap(waiters_);
  for (Signal* s : waiters)
    s->raise();
}

// ---- streams

std::size_t H2UpstreamConnection::capacity() const {
  if (state_ != State::open) return 0;
  const std::size_t room = codec_.capacity();
  if (room == 0) return 0;
  const std::size_t max = codec_.peer_max_concurrent_streams();
  return max > streams_.size() ? max - streams_.size() : 0;
}

H2UpstreamStream* H2UpstreamConnection::open_stream() {
  if (state_ == State::closed || state_ == State::draining) return nullptr;
  auto st = std::make_unique<H2UpstreamStream>();
  st->state.user = st.get();
  st->slot = streams_.size();
  streams_.push_back(std::move(st));
  ++exchanges_;
  loop_.timers().cancel(idle_timer_);
  return streams_.back().get();
}

bool H2UpstreamConnection::submit(H2UpstreamStream& st, const http::H2Request& req) {
  const bool running = state_ == State::open || (state_ == State::connecting && conn_);
  if (!running || !codec_.submit_request(st.state, req)) return false;
  st.submitted = true;
  wake_up();
  writer_.raise();
  return true;
}

void H2UpstreamConnection::resume(H2UpstreamStream& st) {
  codec_.resume(st.state);
  writer_.raise();
}

void H2UpstreamConnection::consume(H2UpstreamStream& st, std::size_t n) {
  if (n == 0 || state_ == State::closed) return;
  codec_.consume(st.state, n);
  writer_.raise();  // a WINDOW_UPDATE to send
}

void H2UpstreamConnection::release(H2UpstreamStream& st) {
  st.attached = false;
  if (!st.delivering.empty() || !st.state.body.empty()) {
    // Bytes nobody will read: the connection's window opens for them.
    const std::size_t n = st.delivering.size() + st.state.body.size();
    st.delivering.clear();
    st.state.body.clear();
    if (state_ != State::closed) codec_.consume(st.state, n);
  }
  if (!st.submitted || st.state.closed || state_ == State::closed) {
    forget(st);
  } else {
    // RFC 9113 §5.4.2: the exchange gave up (its client left, a timeout):
    // the server may stop working on it.
    codec_.reset(st.state, http::h2_error::cancel);
  }
  writer_.raise();
}

// In constant time: the last stream takes the forgotten one's place (with
// a hundred streams in flight, a search was a tenth of a request's cost).
void H2UpstreamConnection::forget(H2UpstreamStream& st) {
  const std::size_t slot = st.slot;
  if (slot >= streams_.size() || streams_[slot].get() != &st) return;
  if (slot + 1 != streams_.size()) {
    streams_[slot] = std::move(streams_.back());
    streams_[slot]->slot = slot;
  }
  streams_.pop_back();
}

// ---- codec events

void H2UpstreamConnection::on_head(http::H2ClientStreamState& s) {
  stream_of(s).wake.raise();
}

void H2UpstreamConnection::on_body(http::H2ClientStreamState& s) {
  H2UpstreamStream& st = stream_of(s);
  if (!st.attached) {
    const std::size_t n = s.body.size();
    s.body.clear();
    codec_.consume(s, n);
    return;
  }
  st.wake.raise();
}

void H2UpstreamConnection::on_output_taken(http::H2ClientStreamState& s) {
  stream_of(s).wake.raise();
}

void H2UpstreamConnection::on_close(http::H2ClientStreamState& s, std::uint32_t /*error_code*/) {
  H2UpstreamStream& st = stream_of(s);
  if (!st.attached) {
    forget(st);
    return;
  }
  st.wake.raise();
}

// ---- the tasks

Task<void> H2UpstreamConnection::read_loop(std::shared_ptr<H2UpstreamConnection> self) {
  co_await self->read_frames();
}

Task<void> H2UpstreamConnection::write_loop(std::shared_ptr<H2UpstreamConnection> self) {
  co_await self->write_frames();
}

// Starts whichever task is not running. A parked connection has none.
void H2UpstreamConnection::wake_up() {
  if (state_ == State::closed || !conn_) return;
  loop_.timers().cancel(idle_timer_);
  conn_->stream().set_idle_handler(nullptr);
  // Both flags first: a task that ends at once must not park the
  // connection before the other has started.
  const bool start_reader = !reading_;
  const bool start_writer = !writing_;
  reading_ = writing_ = true;
  if (start_reader) spawn(read_loop(shared_from_this()));
  if (start_writer && state_ != State::closed) {
    spawn(write_loop(shared_from_this()));
  } else if (start_writer) {
    writing_ = false;
  }
}

// Nothing to do until a new exchange comes or the server says something.
bool H2UpstreamConnection::parkable() const {
  return (state_ == State::open || state_ == State::connecting) && streams_.empty() &&
         !codec_.wants_write();
}

Task<void> H2UpstreamConnection::read_frames() {
  if (!input_) input_ = std::make_unique<char[]>(kReadBytes);
  ByteStream& stream = conn_->stream();
  while (state_ != State::closed) {
    // Bytes already waiting are read first: the edge that announced them
    // may have come while nobody watched.
    if (parkable() && stream.nothing_to_read()) break;
    auto r = co_await stream.read(std::span<char>(input_.get(), kReadBytes));
    if (state_ == State::closed) break;
    if (!r) {
      if (r.code() == Errc::cancelled) continue;  // parking, or closing: looked at above
      close(r.code() == Errc::closed ? "the server closed the connection"
                                     : "reading from the server failed");
      break;
    }
    if (!codec_.receive(std::string_view(input_.get(), *r))) {
      spdlog::warn("HTTP/2 connection to a server closed: {}", codec_.failure());
      close(codec_.failure());
      break;
    }
    after_receive();
  }
  reading_ = false;
  task_ended();
}

// A GOAWAY came: no new stream goes here, and the pool offers it no more.
void H2UpstreamConnection::after_receive() {
  if (state_ == State::connecting && codec_.settings_received()) {
    // The server's limits are known: waiting exchanges may count on them.
    state_ = State::open;
    notify_waiters();
  }
  if ((state_ == State::open || state_ == State::connecting) && codec_.goaway_received()) {
    state_ = State::draining;
    pool_.remove(*this);
  }
  if (!codec_.wants_read() && !codec_.wants_write()) {
    close("the server ended the connection");
    return;
  }
  writer_.raise();
}

Task<void> H2UpstreamConnection::write_frames() {
  std::string out;
  ByteStream& stream = conn_->stream();
  while (state_ != State::closed) {
    out.clear();
    codec_.take_output(out, kWriteBatch);
    if (out.empty()) {
      if (state_ == State::draining && streams_.empty()) {
        close("the server sent GOAWAY and its streams are done");
        break;
      }
      if (parkable()) {
        stream.cancel();  // the reader stops too (the writer waits on nothing)
        break;
      }
      (void)co_await writer_.wait(loop_);
      continue;
    }
    const auto wrote = co_await stream.write(out, io_timeout_ms_);
    if (!wrote) {
      if (state_ != State::closed) close("writing to the server failed");
      break;
    }
  }
  writing_ = false;
  task_ended();
}

void H2UpstreamConnection::task_ended() {
  if (reading_ || writing_ || state_ == State::closed) return;
  park();
}

// No task, no stream: the event loop watches the descriptor, and
// pool.idle_timeout closes the connection unless an exchange comes first.
void H2UpstreamConnection::park() {
  input_.reset();
  ByteStream& stream = conn_->stream();
  stream.set_idle_handler(this);
  // Edge-triggered: bytes that came while the writer still ran gave their
  // edge to nobody, so look before sleeping.
  if (!stream.nothing_to_read()) {
    wake_up();
    return;
  }
  stream.shed_buffers();
  loop_.timers().schedule(idle_timer_, loop_.now_ms() + idle_timeout_ms_);
}

void H2UpstreamConnection::on_io(std::uint32_t) {
  wake_up();
}

void H2UpstreamConnection::on_idle_timeout(Timer* t) {
  static_cast<IdleTimer*>(t)->conn->close("idle");
}

// ---- the end

void H2UpstreamConnection::close(const char* why) {
  if (state_ == State::closed) return;
  // The pool may hold the last reference: `this` lives to the end here.
  const std::shared_ptr<H2UpstreamConnection> keep = shared_from_this();
  state_ = State::closed;
  close_reason_ = why;
  loop_.timers().cancel(idle_timer_);
  pool_.remove(*this);
  notify_waiters();
  fail_streams();
  if (conn_) {
    conn_->stream().set_idle_handler(nullptr);
    conn_->stream().cancel();
  }
  writer_.raise();
}

// Streams still open end here: those the server never saw are marked
// not processed (RFC 9113 §8.7).
void H2UpstreamConnection::fail_streams() {
  std::vector<H2UpstreamStream*> open;
  for (const auto& st : streams_) {
    if (!st->state.closed) open.push_back(st.get());
  }
  for (H2UpstreamStream* st : open) {
    st->state.closed = true;
    st->state.error_code = http::h2_error::internal_error;
    if (!st->submitted ||
        (codec_.goaway_received() && st->state.id > codec_.goaway_last_stream_id())) {
      st->state.not_processed = true;
    }
    if (st->attached) {
      st->wake.raise();
    } else {
      forget(*st);
    }
  }
}

}  // namespace sluice::proxy
