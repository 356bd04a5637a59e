// The few system calls on every request, made without glibc's wrappers.
//
// recv, send, sendmsg and epoll_wait are thread cancellation points: in a
// process with more than one thread (every sluice process: the main thread
// and its workers), glibc brackets each with two calls that switch
// asynchronous cancellation on and off: with the wrapper, about 60
// instructions a call against about 16 for syscall(2), four to five calls
// a proxied request (docs/benchmarks.md). No sluice thread is ever
// cancelled (pthread_cancel is never called), so the bracket buys nothing.
// syscall(2) is the same system call with errno set the same way, and no
// bracket.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace sluice::direct {

inline ssize_t recv(int fd, void* buf, std::size_t len, int flags) {
  return ::syscall(SYS_recvfrom, fd, buf, len, flags, nullptr, nullptr);
}

inline ssize_t send(int fd, const void* buf, std::size_t len, int flags) {
  return ::syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}

inline ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}

inline int epoll_wait(int epfd, epoll_event* events, int max_events, int timeout_ms) {
#if defined(SYS_epoll_wait)
  return static_cast<int>(::syscall(SYS_epoll_wait, epfd, events, max_events, timeout_ms));
#else
  // Architectures without epoll_wait (arm64): epoll_pwait with no signal
  // mask is the same call.
  return static_cast<int>(
      ::syscall(SYS_epoll_pwait, epfd, events, max_events, timeout_ms, nullptr, 0));
#endif
}

}  // namespace sluice::direct
