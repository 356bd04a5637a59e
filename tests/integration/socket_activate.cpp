// sluice_socket_activate: starts a program as systemd would start a
// socket-activated service (sd_listen_fds(3)), for the socket activation
// tests. The sockets to pass are descriptors this helper inherited:
//
//   sluice_socket_activate [--fd N[=NAME]]... -- PROGRAM [ARG]...
//
// Each --fd N becomes descriptor 3, 4, ... in order; LISTEN_FDS says how
// many, LISTEN_FDNAMES their names and LISTEN_PID the program's pid, which
// is this helper's own: it execs the program, so only it can know the pid
// before the program runs (a multi-threaded test cannot set the variable
// between fork and exec).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kFirstFd = 3;
// Out of the way of 3, 4, ... while the descriptors are moved there.
constexpr int kParkingFd = 512;

int usage() {
  std::fprintf(stderr, "usage: sluice_socket_activate [--fd N[=NAME]]... -- PROGRAM [ARG]...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> fds;
  std::string names;
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    if (std::strcmp(argv[i], "--fd") != 0 || i + 1 >= argc) return usage();
    const std::string spec = argv[++i];
    const std::size_t eq = spec.find('=');
    fds.push_back(std::atoi(spec.substr(0, eq).c_str()));
    if (fds.size() > 1) names += ':';
    names += eq == std::string::npos ? "unknown" : spec.substr(eq + 1);
  }
  if (i + 1 >= argc) return usage();
  // Park every socket high first, so that moving one to 3 + k cannot
  // overwrite another still waiting at that number.
  std::vector<int> parked;
  for (int fd : fds) {
    const int high = ::fcntl(fd, F_DUPFD, kParkingFd);
    if (high < 0) {
      std::perror("sluice_socket_activate: fcntl");
      return 1;
    }
    ::close(fd);
    parked.push_back(high);
  }
  for (std::size_t k = 0; k < parked.size(); ++k) {
    const int target = kFirstFd + static_cast<int>(k);
    if (::dup2(parked[k], target) < 0) {  // dup2 leaves close-on-exec off
      std::perror("sluice_socket_activate: dup2");
      return 1;
    }
    ::close(parked[k]);
  }
  ::setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
  ::execvp(argv[i + 1], argv + i + 1);
  std::perror("sluice_socket_activate: exec");
  return 127;
}
