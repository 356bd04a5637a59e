// What the HTTP/2 integration tests share: a configuration with one http
// listener 'web' (its `http2` block as the test gives it) routing every
// request to one backend, a backend that holds chosen requests until the
// test lets them go, and sluice's resident memory.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>

#include "support/test_backend.h"

namespace sluice::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedAllocator = true;
#else
inline constexpr bool kSanitizedAllocator = false;
#endif

// `http2`: the listener's http2 block as a YAML flow map ("{max_frame_size:
// 32KiB}"), or "" for none (the defaults); `listener_extra`: more lines
// under the listener, indented four spaces; `routes`: the routes list
// (default: everything to backend 'app').
inline std::string h2_config(const std::string& backend_address, const std::string& http2 = "",
                             const std::string& listener_extra = "",
                             const std::string& routes = "  - name: app\n    backend: app\n") {
  std::string y = "workers: 1\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n";
  if (!http2.empty()) y += "    http2: " + http2 + "\n";
  y += listener_extra;
  y += "routes:\n" + routes;
  y += "backends:\n  app:\n    servers: [" + backend_address + "]\n";
  return y;
}

// A latch a backend script waits on; the test opens it.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A backend answering 200 with `body`; requests whose target starts with
// /hold are answered only once the test opens `gate` (on destruction at
// the latest, so no script is left waiting).
class HeldBackend {
 public:
  explicit HeldBackend(std::string body = "held response body")
      : body_(std::move(body)), backend_([this](BackendConnection& c) {
          ReceivedRequest r;
          while (c.read_request(r)) {
            if (r.target.rfind("/hold", 0) == 0 && !gate_.wait(std::chrono::seconds(30))) return;
            if (!c.send(make_response(200, body_))) return;
          }
        }) {}
  ~HeldBackend() { gate_.open(); }
  HeldBackend(const HeldBackend&) = delete;
  HeldBackend& operator=(const HeldBackend&) = delete;

  void release() { gate_.open(); }
  TestBackend& backend() { return backend_; }
  std::string address() const { return backend_.address(); }
  const std::string& body() const { return body_; }

 private:
  Gate gate_;
  std::string body_;
  TestBackend backend_;
};

// VmRSS of `pid` in bytes; -1 when unreadable.
inline long resident_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  return -1;
}

}  // namespace sluice::test
