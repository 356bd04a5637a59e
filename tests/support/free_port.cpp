#include "support/free_port.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace sluice::test {
namespace {

// Binds a new socket to 127.0.0.1 on a port the kernel picks; returns the
// descriptor (-1 on failure) and sets `port`.
int bind_loopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

}  // namespace

std::uint16_t free_loopback_port() {
  std::uint16_t port = 0;
  const int fd = bind_loopback(port);
  if (fd >= 0) ::close(fd);
  return port;
}

RefusingPort::RefusingPort() {
  // No SO_REUSEADDR: with it, another socket that also sets it (a test
  // backend's listener) could bind the same port while this one is not
  // listening.
  fd_ = bind_loopback(port_);
  if (fd_ < 0) std::abort();  // no loopback port at all: nothing can be tested
}

RefusingPort::~RefusingPort() {
  ::close(fd_);
}

}  // namespace sluice::test
