// Backends for balancing tests: servers that answer with their own name, a
// ledger of which server received which request (in arrival order, over
// all servers), a gate that holds chosen requests until the test lets them
// go, and a health status the test can flip.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {

// Every request any server of the fleet read, in arrival order.
class Ledger {
 public:
  struct Entry {
    std::string server;
    std::string target;
  };
  void note(const std::string& server, const std::string& target) {
    std::lock_guard lock(mutex_);
    entries_.push_back({server, target});
    cv_.notify_all();
  }
  // Waits until `n` requests other than health checks have arrived.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return served_locked() >= n; });
  }
  // Requests other than health checks so far.
  std::size_t served() {
    std::lock_guard lock(mutex_);
    return served_locked();
  }
  // Which server received the n-th (0-based) request other than a health check.
  std::string server_of(std::size_t n) {
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_) {
      if (e.target == kHealthPath) continue;
      if (n-- == 0) return e.server;
    }
    return "";
  }
  // Requests other than health checks that `server` received among the
  // first `until` of them (all when `until` is past the end).
  std::size_t count(const std::string& server, std::size_t until = SIZE_MAX) {
    std::lock_guard lock(mutex_);
    std::size_t seen = 0;
    std::size_t n = 0;
    for (const auto& e : entries_) {
      if (e.target == kHealthPath) continue;
      if (seen++ >= until) break;
      if (e.server == server) ++n;
    }
    return n;
  }
  static constexpr const char* kHealthPath = "/health";

 private:
  std::size_t served_locked() const {
    std::size_t n = 0;
    for (const auto& e : entries_)
      n += e.target == kHealthPath ? 0 : 1;
    return n;
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

// Holds the requests a server is told to hold until opened. A held
// script gives up after 20 s, so a failed test still ends.
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Opens the gate when the test ends, however it ends, so that the servers'
// threads (joined when the backends are destroyed) are not left waiting.
// Declare it after the backends.
struct OpenAtExit {
  std::shared_ptr<Gate> gate;
  ~OpenAtExit() { gate->open(); }
};

struct FleetServer {
  std::string name;
  std::shared_ptr<Ledger> ledger;
  std::shared_ptr<Gate> gate;                // null: holds nothing
  bool hold_all = false;                     // hold every request, not only /hold
  std::shared_ptr<std::atomic<int>> health;  // status /health answers; null: 200
};

// Answers every request 200 with the server's name as the body, keeping
// the connection; /health with the server's health status. A request for
// /hold (any request, with hold_all) waits for the gate first.
inline TestBackend::Script fleet_server(FleetServer s) {
  return [s](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r, 30'000)) {
      s.ledger->note(s.name, r.target);
      if (r.target == Ledger::kHealthPath) {
        const int status = s.health ? s.health->load() : 200;
        if (!c.send(make_response(status, "", {"Connection: close"}))) return;
        return;
      }
      if (s.gate && (s.hold_all || r.target == "/hold") && !s.gate->wait()) return;
      if (!c.send(make_response(200, s.name))) return;
    }
  };
}

// Sends `GET path` with `fields` (each "Name: value\r\n") on `c`; the body
// (a server's name), or a marker no server is called.
inline std::string get(RawConnection& c, const std::string& path, const std::string& fields = "") {
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n")) return "<send failed>";
  auto r = c.read_response();
  if (!r) return "<no response>";
  if (r->status != 200) return "<status " + std::to_string(r->status) + ">";
  return r->body;
}

// `n` servers named a, b, c... recording into one ledger.
struct Fleet {
  // `gate`: what held requests wait for; `held`: the one server that
  // holds every request (else each server holds only /hold).
  explicit Fleet(int n, std::shared_ptr<Gate> gate = nullptr, const std::string& held = "") {
    for (int i = 0; i < n; ++i) {
      const std::string name(1, static_cast<char>('a' + i));
      health.push_back(std::make_shared<std::atomic<int>>(200));
      FleetServer s{name, ledger, nullptr, false, health.back()};
      if (held.empty()) {
        s.gate = gate;  // each holds /hold
      } else if (name == held) {
        s.gate = gate;  // only this one holds, and everything
        s.hold_all = true;
      }
      servers.push_back(std::make_unique<TestBackend>(fleet_server(s)));
    }
  }
  std::string address(int i) const { return servers[static_cast<std::size_t>(i)]->address(); }
  std::string list() const {
    std::string out;
    for (std::size_t i = 0; i < servers.size(); ++i)
      out += (i ? ", " : "") + servers[i]->address();
    return out;
  }
  std::shared_ptr<Ledger> ledger = std::make_shared<Ledger>();
  std::vector<std::shared_ptr<std::atomic<int>>> health;
  std::vector<std::unique_ptr<TestBackend>> servers;
};

// How many of `bodies` are `name`.
inline std::size_t share(const std::vector<std::string>& bodies, const std::string& name) {
  std::size_t n = 0;
  for (const auto& b : bodies)
    n += b == name ? 1 : 0;
  return n;
}

inline std::vector<std::string> get_n(RawConnection& c, int n, const std::string& path = "/",
                                      const std::string& fields = "") {
  std::vector<std::string> bodies;
  for (int i = 0; i < n; ++i)
    bodies.push_back(get(c, path, fields));
  return bodies;
}

}  // namespace sluice::test
