// A scriptable HTTP/1.1 backend for integration tests: a loopback listener
// (port from the kernel) and one thread per accepted connection running the
// test's script. The script reads requests and writes whatever bytes it
// likes, so a test can misbehave on purpose: answer HEAD with a body, close
// mid-body, drop idle connections, never answer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::test {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::string version;                              // "HTTP/1.1"
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;                                 // decoded (chunked or Content-Length)
  bool chunked = false;
  std::string raw_head;
  // A chunked body's trailer section as received: its field lines, each
  // with its CRLF (not the blank line that ends it); empty when none came.
  std::string raw_trailers;
  std::string header(const std::string& lower_name) const;  // "" when absent
  bool has(const std::string& lower_name) const { return headers.count(lower_name) > 0; }
};

class TestBackend;

class BackendConnection {
 public:
  BackendConnection(TestBackend& backend, int fd, int index)
      : backend_(backend), fd_(fd), index_(index) {}
  ~BackendConnection();
  // Reads one request (head and body). False on EOF, error or timeout.
  bool read_request(ReceivedRequest& out, int timeout_ms = 10000);
  // False on error, or when the peer has not taken a byte for 10 s.
  bool send(const std::string& bytes);
  void shutdown_write();
  void close();
  // True when the peer closes within the timeout (bytes read meanwhile are dropped).
  bool wait_closed(int timeout_ms = 10000);
  // True if bytes (or EOF) are readable within the timeout.
  bool readable(int timeout_ms);
  int index() const { return index_; }  // 1-based accept order
  // For raw byte scripts (tunnels): bytes already buffered come first.
  int fd_for_tests() const { return fd_; }
  std::string take_buffered() { return std::exchange(in_, {}); }
  TestBackend& backend() { return backend_; }

 private:
  bool fill(int timeout_ms);
  TestBackend& backend_;
  int fd_;
  int index_;
  std::string in_;
};

class TestBackend {
 public:
  using Script = std::function<void(BackendConnection&)>;
  explicit TestBackend(Script script);
  // Listens on `ipv4`:`port` instead (another loopback address such as
  // 127.0.0.2; port 0: the kernel picks).
  TestBackend(Script script, const std::string& ipv4, std::uint16_t port);
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }
  int open_connections() const { return open_.load(); }
  int max_open_connections() const { return max_open_.load(); }
  // Every request any script read, in order.
  std::vector<ReceivedRequest> requests() const;
  void record(const ReceivedRequest& r);
  // Waits until `n` connections have been accepted and closed again.
  bool wait_for_closed_connections(int n, int timeout_ms = 10000);
  // Waits until `n` requests have been received (over all connections).
  bool wait_for_requests(std::size_t n, int timeout_ms = 10000);

  // Scripts for common cases.
  // Answers every request 200 with its body echoed and X-Method, X-Target,
  // X-Body-Length, X-Chunked headers; `chunked_response`: in chunks.
  static Script echo(bool chunked_response = false);
  // Accepts a WebSocket upgrade (101) and echoes raw bytes until the peer
  // closes or is silent for `idle_ms`.
  static Script websocket_echo(int idle_ms = 5000);

 private:
  void accept_loop();
  friend class BackendConnection;
  void connection_closed();

  Script script_;
  std::string host_ = "127.0.0.1";
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::atomic<int> max_open_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable closed_cv_;
  int closed_ = 0;
  std::vector<ReceivedRequest> requests_;
  std::vector<int> connection_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// Writes a complete response: status line, `headers` lines as given, and
// Content-Length for `body` unless the headers already frame it.
std::string make_response(int status, const std::string& body,
                          const std::vector<std::string>& headers = {});
// The body as chunks of at most `chunk` bytes, last chunk included.
std::string chunk_body(const std::string& body, std::size_t chunk = 7);

}  // namespace sluice::test
