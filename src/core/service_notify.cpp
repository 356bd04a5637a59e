#include "core/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace sluice {
namespace {

// The manager's address from $NOTIFY_SOCKET: a path, or an abstract name
// after '@' (its leading NUL written in place of the '@'). Anything else
// (systemd's vsock: form, for virtual machines) is not ours to serve.
bool manager_address(sockaddr_un& addr, socklen_t& length) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || (name[0] != '/' && name[0] != '@')) return false;
  const std::size_t n = std::strlen(name);
  if (n < 2 || n >= sizeof addr.sun_path) return false;
  addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name, n);
  if (name[0] == '@') addr.sun_path[0] = '\0';
  // An abstract name is exactly `length` bytes long (no terminating NUL).
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + (name[0] == '/' ? 1 : 0));
  return true;
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1'000;
}

// STATUS= is one line: a newline would start another assignment.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

bool service_notify(std::string_view state) {
  sockaddr_un addr{};
  socklen_t length = 0;
  if (!manager_address(addr, length)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), length);
  } while (sent < 0 && errno == EINTR);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

void service_ready(std::string_view status) {
  // MAINPID= every time: after a binary upgrade the sender is the child
  // of the process systemd knows, and systemd must follow it.
  service_notify("READY=1\nMAINPID=" + std::to_string(::getpid()) + "\nSTATUS=" + one_line(status));
}

void service_stopping() {
  service_notify("STOPPING=1\nSTATUS=stopping");
}

ServiceReload::ServiceReload(std::string_view origin) : origin_(one_line(origin)) {
  service_notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) +
                 "\nSTATUS=reloading " + origin_);
}

ServiceReload::~ServiceReload() {
  if (!done_) service_notify("READY=1");
}

void ServiceReload::finished(bool applied) {
  done_ = true;
  service_notify(std::string("READY=1\nSTATUS=serving; reload of ") + origin_ +
                 (applied ? " applied" : " refused, the previous configuration is in force"));
}

}  // namespace sluice
