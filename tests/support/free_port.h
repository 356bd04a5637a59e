// Loopback ports for tests that must name a port before anything listens.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::test {

// A loopback port the kernel has just handed out and released again: only
// for a third-party server (nginx, Redis, HAProxy) that must bind the port
// itself. Under `ctest -j` another test may take it first, so never use it
// for a port that must stay dead: use RefusingPort.
std::uint16_t free_loopback_port();

// A loopback port that refuses connections for as long as this object
// lives: a socket holds it bound but never listens, so a connect gets a
// reset (ECONNREFUSED) and no other socket can bind the port meanwhile.
// For "a server that is down".
class RefusingPort {
 public:
  RefusingPort();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace sluice::test
