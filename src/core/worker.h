// A worker: one thread, one event loop, its own listening sockets (one per
// configured listener, SO_REUSEPORT), its own buffer pool, and the set of
// connections it is serving. Nothing here is shared with other workers.
//
// Two buffer pools: `buffers`, one size for every read and head, and
// `bulk_buffers`, larger, lent only while a body arrives faster than one
// buffer drains it, so a large body moves in fewer, larger reads and sends
// without every connection paying for the size.
//
// After a burst (reclaim): a timer, armed by the first buffer lent after it
// last ran, gives back every half second what traffic left unused in the
// buffer pools and the frame lists, then the allocator's free pages. An idle
// worker never wakes for it.
//
// Stopping (request_stop, from any thread): close the listening sockets,
// close idle keep-alive connections at once, let busy ones finish within the
// grace period, then cancel what is left and leave the loop once every
// connection task has ended.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/buffer_pool.h"
#include "core/event_loop.h"
#include "core/listener.h"
#include "core/task.h"
#include "core/waiter.h"

namespace sluice {

class Worker;

// Registers one connection with its worker for the connection's lifetime.
// Lives in the connection task's frame.
class ConnectionScope {
 public:
  // `cap`: the listener's, whose place this connection holds until it
  // ends; null for a listener without one.
  ConnectionScope(Worker& worker, std::size_t listener_index, ListenerCap* cap = nullptr);
  ~ConnectionScope();
  ConnectionScope(const ConnectionScope&) = delete;
  ConnectionScope& operator=(const ConnectionScope&) = delete;

  Worker& worker() { return worker_; }
  std::size_t listener_index() const { return listener_index_; }
  // Bind the connection's sockets and sleeps to this: a stop cancels it.
  CancelToken& cancel_token() { return token_; }
  // Idle = waiting for the next request on a keep-alive connection. A
  // stopping worker closes idle connections at once.
  void set_idle(bool idle);
  bool idle() const { return idle_; }

 private:
  friend class Worker;
  Worker& worker_;
  ListenerCap* cap_;  // the listener cap whose place it holds, or null
  CancelToken token_;
  ConnectionScope* prev_ = nullptr;
  ConnectionScope* next_ = nullptr;
  std::uint32_t listener_index_;  // narrow, beside the flag: one per idle connection
  bool idle_ = false;
};

// Serves one accepted connection; runs on the worker's thread. The task owns
// the connection's fd from the start. (The peer address is not passed: an
// idle connection should not carry 128 bytes of sockaddr_storage in each
// frame; getpeername() finds it when a log line needs it.)
using ConnectionHandler = std::function<Task<void>(ConnectionScope&, int fd)>;
// The same, for a task that makes the connection's ConnectionScope itself
// (`ConnectionScope scope(worker, listener_index, cap);` before its first
// co_await): then no wrapper frame holds the scope, which spares every idle
// connection a frame (about 140 bytes). `peer`: what accept(2) said of the
// client, valid only during the call (a coroutine keeps a copy, compact).
using ScopingConnectionHandler = std::function<Task<void>(
    Worker&, std::size_t listener_index, ListenerCap* cap, int fd, const SocketAddress& peer)>;

class Worker {
 public:
  // `buffer_bytes`: size of each pooled I/O buffer (the largest request
  // head a listener accepts, plus room for body bytes behind it).
  Worker(unsigned index, ConnectionHandler handler, std::size_t buffer_bytes = 16 * 1024);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Before start(): replaces the connection handler (one that needs the
  // worker's loop is made after the worker).
  void set_handler(ConnectionHandler handler) { handler_ = std::move(handler); }
  // Before start(): serve connections with this instead.
  void set_scoping_handler(ScopingConnectionHandler handler) {
    scoping_handler_ = std::move(handler);
  }
  // Before start(): adopt a listening socket for listener `listener_index`.
  // `cap`: shared by every worker serving that listener (see ListenerCap).
  void add_listener(std::size_t listener_index, int fd, std::shared_ptr<ListenerCap> cap = nullptr);
  // Loop thread, while running: adopt a listening socket and start
  // accepting on it (a listener added by a reload).
  void open_listener(std::size_t listener_index, int fd,
                     std::shared_ptr<ListenerCap> cap = nullptr);
  // Loop thread: stop accepting for `listener_index` and close its idle
  // connections; busy ones finish (their session sees the listener gone
  // and closes after the response).
  void close_listener(std::size_t listener_index);
  // Loop thread: stop accepting on every listener without closing any
  // connection (a successor process has taken the sockets over).
  void stop_accepting();
  void start();
  // Any thread. Idempotent; a second call may shorten the grace period.
  // Idle keep-alive connections close at once, or, with
  // `idle_close_after_ms`, only once idle that long: a client busy on one
  // gets its next response with Connection: close instead, and never
  // races our close with its next request (a successor process takes
  // over the listening sockets, so the client just reconnects).
  void request_stop(std::uint64_t grace_ms, std::uint64_t idle_close_after_ms = 0);
  void join();

  unsigned index() const { return index_; }
  // A stop was requested: finish what is in flight, start nothing new
  // (responses say Connection: close). Loop thread only.
  bool stopping() const { return stopping_; }
  EventLoop& loop() { return loop_; }
  BufferPool& buffers() { return buffers_; }
  BufferPool& bulk_buffers() { return bulk_buffers_; }
  // Loop thread only.
  std::size_t connection_count() const { return connections_; }
  std::size_t idle_connection_count() const;
  // Loop thread only: idle connections by listener index (`counts` grows
  // to the highest index seen).
  void count_idle_by_listener(std::vector<std::size_t>& counts) const;

 private:
  friend class ConnectionScope;
  void run();
  Task<void> accept_loop(std::size_t slot);
  void serve(std::size_t listener_index, ListenerCap* cap, int fd, const SocketAddress& peer);
  Detached serve_in_scope(std::size_t listener_index, ListenerCap* cap, int fd);
  void begin_stop(std::uint64_t grace_ms, std::uint64_t idle_close_after_ms);
  void close_idle_connections();
  void cancel_all();
  void finish_if_drained();
  void link(ConnectionScope& c);
  void unlink(ConnectionScope& c);
  void arm_reclaim();
  void reclaim();

  // A slot outlives its Listener's close (a reload that removes the
  // listener): the connections still open give their places back to `cap`.
  struct ListenerSlot {
    std::size_t listener_index;
    int fd;
    std::shared_ptr<ListenerCap> cap;
    std::unique_ptr<Listener> listener;
  };

  unsigned index_;
  ConnectionHandler handler_;
  ScopingConnectionHandler scoping_handler_;
  EventLoop loop_;
  BufferPool buffers_;
  BufferPool bulk_buffers_;
  std::vector<ListenerSlot> listeners_;
  std::thread thread_;
  ConnectionScope* head_ = nullptr;
  std::size_t connections_ = 0;
  std::size_t accept_loops_ = 0;
  bool stopping_ = false;
  bool closing_idle_ = false;  // stopping, and idle connections close at once
  struct GraceTimer : Timer {
    Worker* worker = nullptr;
  } grace_timer_, idle_timer_, reclaim_timer_;
  std::size_t heap_freed_bytes_ = 0;  // freed to malloc since its last trim
};

}  // namespace sluice
