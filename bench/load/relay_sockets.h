// The sockets of the benchmark's byte relays (floor_proxy.cpp on epoll,
// floor_uring.cpp on io_uring): loopback addresses, the listener, and the
// backend connection each client gets. Benchmark code only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace relay {

inline void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

inline sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline void no_delay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A blocking listening socket on `at`; the program ends if it cannot be had.
inline int listen_on(const sockaddr_in& at) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) die("bind");
  if (::listen(fd, 4096) != 0) die("listen");
  return fd;
}

// A blocking connection to the backend (on loopback it completes within
// the call), or -1.
inline int connect_to(const sockaddr_in& backend) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&backend), sizeof backend) != 0) {
    std::perror("connect");
    ::close(fd);
    return -1;
  }
  return fd;
}

// The listener and the backend's address from "PROGRAM LISTEN_PORT
// BACKEND_PORT", both on 127.0.0.1; a usage line and exit status 2 if the
// arguments are not that.
struct Ends {
  int listener;
  sockaddr_in backend;
};

inline Ends ends_from(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s LISTEN_PORT BACKEND_PORT\n", argv[0]);
    std::exit(2);
  }
  return {listen_on(loopback(std::atoi(argv[1]))), loopback(std::atoi(argv[2]))};
}

}  // namespace relay
