// One HTTP/2 connection to one server (`protocol: h2` over TLS with ALPN
// "h2", or `h2c`, cleartext with prior knowledge), shared by as many
// exchanges as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows, each on
// a stream of its own. The byte stream comes from UpstreamConnector (TCP,
// then TLS where configured); the client codec (http/h2_client_connection.h)
// does the framing. While streams are open a reader task feeds the codec
// and a writer task sends what it queues; with none open both end and the
// connection waits in its worker's H2UpstreamPool with no task at all, the
// event loop watching its descriptor (a PING, a GOAWAY or the server's
// close wakes it) until pool.idle_timeout closes it.
//
// It closes itself when the server goes away (GOAWAY and its streams done,
// or a close) or breaks the protocol, failing the streams still open: a
// stream the server did not process (REFUSED_STREAM, above a GOAWAY's
// last-stream-id, or never sent) says so, and any request on it may be
// sent again (RFC 9113 §8.7).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/frame_allocator.h"
#include "core/signal.h"
#include "core/task.h"
#include "core/timer_wheel.h"
#include "http/h2_client_connection.h"
#include "proxy/backend.h"

namespace sluice {
class EventLoop;
class CancelToken;
}  // namespace sluice

namespace sluice::proxy {

class H2UpstreamPool;
class UpstreamConnection;

// One stream: the codec's state of it, and what its exchange waits on.
// Owned by the connection; freed once the codec has closed it and its
// exchange has let go of it.
struct H2UpstreamStream : FramePooled {  // one per request: from the pooled lists
  http::H2ClientStreamState state;
  Signal wake;             // the head, body or trailers came, output was taken, or it closed
  std::string delivering;  // response body bytes handed to the exchange
  bool attached = true;    // an exchange still uses it
  bool submitted = false;  // its request went to the codec
  std::size_t slot = 0;    // its place among the connection's streams
};

class H2UpstreamConnection final : public http::H2ClientConnection::Handler,
                                   public IoHandler,
                                   public std::enable_shared_from_this<H2UpstreamConnection> {
 public:
  enum class State : std::uint8_t {
    connecting,  // one exchange is connecting it (its stream goes first); others wait
                 // until the server's SETTINGS say how many streams it takes
    open,        // takes new streams while it has room
    draining,    // a GOAWAY came or went: streams in flight finish, no new ones
    closed,      // failed or done; the pool has forgotten it
  };

  // `io_timeout_ms`: the longest a write may wait (the backend's
  // timeouts.idle); `idle_timeout_ms`: how long it is kept with no stream.
  H2UpstreamConnection(EventLoop& loop, H2UpstreamPool& pool, DestinationId destination,
                       const http::H2ClientLimits& limits, std::uint64_t io_timeout_ms,
                       std::uint64_t idle_timeout_ms);
  ~H2UpstreamConnection() override;
  H2UpstreamConnection(const H2UpstreamConnection&) = delete;
  H2UpstreamConnection& operator=(const H2UpstreamConnection&) = delete;

  // Runs over `conn` (connected, TLS done and ALPN checked): starts its
  // tasks; it opens once the server's SETTINGS come. Called once, by the
  // exchange that connected it.
  void start(std::unique_ptr<UpstreamConnection> conn);
  // The connect failed (`why`): waiters look elsewhere.
  void fail_connect(const char* why);
  // Waits while connecting: true once open. False: the connect failed,
  // or the wait timed out or was cancelled.
  Task<bool> wait_open(std::uint64_t timeout_ms, CancelToken* cancel);

  State state() const { return state_; }
  DestinationId destination() const { return destination_; }
  // Streams it may still take: the server's limit minus the streams it
  // holds (none while connecting).
  std::size_t capacity() const;
  std::size_t streams() const { return streams_.size(); }
  // Exchanges that were ever given a stream here (> 1: it is shared).
  std::uint64_t exchanges() const { return exchanges_; }

  // A stream for one exchange (counted against capacity at once), or null
  // when the connection takes no more. While connecting, only the
  // exchange that connects it gets one.
  H2UpstreamStream* open_stream();
  // Sends the request head (and, with has_body, DATA from st.state.out
  // as it is offered). False: the connection takes no more streams (a
  // GOAWAY came meanwhile): the request was not sent.
  bool submit(H2UpstreamStream& st, const http::H2Request& req);
  // st.state.out changed: offer it again.
  void resume(H2UpstreamStream& st);
  // `n` response bytes were handed on: the server's window opens again.
  void consume(H2UpstreamStream& st, std::size_t n);
  // The exchange is done with `st`: a stream still open is reset (CANCEL).
  void release(H2UpstreamStream& st);
  // Closes the connection now (the pool is emptied, the worker stops).
  void close(const char* why);
  // The server sent GOAWAY.
  bool goaway_received() const { return codec_.goaway_received(); }
  // Why it closed (for the exchange's log); null while it is open.
  const char* close_reason() const { return close_reason_; }

  // http::H2ClientConnection::Handler
  void on_head(http::H2ClientStreamState& s) override;
  void on_body(http::H2ClientStreamState& s) override;
  void on_output_taken(http::H2ClientStreamState& s) override;
  void on_close(http::H2ClientStreamState& s, std::uint32_t error_code) override;

 private:
  // IoHandler: parked and readable (the server sent a frame or closed).
  void on_io(std::uint32_t events) override;

  // Each task holds the connection alive until it ends.
  static Task<void> read_loop(std::shared_ptr<H2UpstreamConnection> self);
  static Task<void> write_loop(std::shared_ptr<H2UpstreamConnection> self);
  Task<void> read_frames();
  Task<void> write_frames();
  void wake_up();
  bool parkable() const;
  void task_ended();
  void park();
  void after_receive();
  void fail_streams();
  void forget(H2UpstreamStream& st);
  void notify_waiters();
  static void on_idle_timeout(Timer* t);

  EventLoop& loop_;
  H2UpstreamPool& pool_;
  DestinationId destination_;
  std::uint64_t io_timeout_ms_;
  std::uint64_t idle_timeout_ms_;
  http::H2ClientConnection codec_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::vector<std::unique_ptr<H2UpstreamStream>> streams_;
  Signal writer_;                  // frames are queued
  std::vector<Signal*> waiters_;   // exchanges waiting while it connects
  std::unique_ptr<char[]> input_;  // the reader's buffer, only while it runs
  std::uint64_t exchanges_ = 0;
  State state_ = State::connecting;
  bool reading_ = false;
  bool writing_ = false;
  const char* close_reason_ = nullptr;
  struct IdleTimer : Timer {
    H2UpstreamConnection* conn = nullptr;
  } idle_timer_;
};

}  // namespace sluice::proxy
