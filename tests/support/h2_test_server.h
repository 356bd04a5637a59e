// A scriptable cleartext HTTP/2 server (h2c, prior knowledge) for
// integration tests, over nghttp2's server session: a loopback listener
// (port from the kernel) and one thread serving every connection. It can
// misbehave on purpose as RFC 9113 allows a server to: refuse streams
// (REFUSED_STREAM), go away (GOAWAY with last-stream-id 0) as the first
// request arrives, advertise a small SETTINGS_MAX_CONCURRENT_STREAMS, and
// hold every answer until a number of requests are open at once (so a
// test knows they were concurrent without sleeping).
//
// Each answer is 200 with `x-connection: <accept order>` and the body
// "<method> <path> <request body bytes>".
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::test {

struct H2ServerScript {
  std::uint32_t max_concurrent_streams = 100;
  int refuse_streams = 0;      // the first N streams get RST_STREAM(REFUSED_STREAM)
  int goaway_connections = 0;  // the first N connections send GOAWAY(0) at their first request
  int hold_until_open = 0;     // answers wait until this many requests are open at once
  bool content_length = true;  // false: answers say no length; END_STREAM ends them
  int early_hints = 0;         // this many 103 heads (each with a `link` field) before each answer
  // Sent in a trailing HEADERS frame after each answer's data, in order.
  std::vector<std::pair<std::string, std::string>> trailers;
  // The trailers wait, after the data, until release_trailers(): the
  // answer's head and data have surely been relayed before they come.
  bool hold_trailers = false;
};

struct H2SeenRequest {
  int connection = 0;  // 1-based accept order
  std::string method, path, body;
  bool answered = false;  // false: refused, or its connection went away
};

class H2TestServer {
 public:
  explicit H2TestServer(H2ServerScript script = {});
  ~H2TestServer();
  H2TestServer(const H2TestServer&) = delete;
  H2TestServer& operator=(const H2TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  // Every request whose head arrived, in order.
  std::vector<H2SeenRequest> requests() const;
  // The most requests open at once on any one connection, and over all.
  int max_open_per_connection() const { return max_open_per_connection_.load(); }
  int max_open() const { return max_open_.load(); }
  // Waits until `n` requests were answered; false after `timeout`.
  bool wait_answered(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Sends the trailers held by `hold_trailers`, now and from then on.
  void release_trailers();

 private:
  struct Conn;
  void run();
  void serve_round();
  void answer_held();
  void resume_deferred();
  friend struct H2TestServerCallbacks;

  H2ServerScript script_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;  // server thread only
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<H2SeenRequest> requests_;
  std::atomic<int> connections_{0};
  std::atomic<bool> trailers_released_{false};
  std::atomic<int> max_open_per_connection_{0};
  std::atomic<int> max_open_{0};
  int refused_ = 0;
  int open_now_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::test
