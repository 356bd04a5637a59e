#include "core/socket_activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/address.h"

namespace sluice {
namespace {

// sd_listen_fds(3): the first passed descriptor is always 3.
constexpr int kFirstFd = 3;
// More would be a manager's mistake (or not meant for us): the descriptor
// table is not ours to walk that far.
constexpr long kMostFds = 4096;

long parse_count(const char* text) {
  if (text == nullptr || *text == '\0') return -1;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  return *end == '\0' ? v : -1;
}

std::vector<std::string> split_names(const char* text) {
  std::vector<std::string> names;
  if (text == nullptr) return names;
  std::string all(text);
  std::size_t begin = 0;
  while (true) {
    const std::size_t colon = all.find(':', begin);
    names.push_back(all.substr(begin, colon - begin));
    if (colon == std::string::npos) break;
    begin = colon + 1;
  }
  return names;
}

// Only a listening TCP socket can serve a listener; systemd passes what
// the .socket unit lists, which may be a datagram or a FIFO.
bool listening_stream(int fd) {
  int type = 0;
  int accepting = 0;
  socklen_t n = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) != 0 || type != SOCK_STREAM) return false;
  n = sizeof accepting;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &n) != 0 || !accepting) return false;
  const int family = SocketAddress::local_of(fd).family();
  return family == AF_INET || family == AF_INET6;
}

}  // namespace

HandedSockets take_activated_sockets() {
  HandedSockets sockets;
  const long pid = parse_count(std::getenv("LISTEN_PID"));
  const long count = parse_count(std::getenv("LISTEN_FDS"));
  const std::vector<std::string> names = split_names(std::getenv("LISTEN_FDNAMES"));
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  // Set for another process (a parent that forgot to unset them): the
  // descriptors, if any, are not sockets meant for us.
  if (pid != ::getpid() || count <= 0 || count > kMostFds) return sockets;
  for (int i = 0; i < count; ++i) {
    const int fd = kFirstFd + i;
    const std::string name = static_cast<std::size_t>(i) < names.size() ? names[i] : "unknown";
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // a successor gets them by handover only
    if (!listening_stream(fd)) {
      spdlog::warn(
          "socket activation: socket '{}' (fd {}) is not a listening TCP socket: closing it", name,
          fd);
      ::close(fd);
      continue;
    }
    // systemd passes blocking sockets; a worker's accept loop must not block.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    const std::string address = SocketAddress::local_of(fd).to_string();
    spdlog::info("socket activation: socket '{}' (fd {}) on {}", name, fd, address);
    sockets[address].push_back(fd);
  }
  return sockets;
}

}  // namespace sluice
