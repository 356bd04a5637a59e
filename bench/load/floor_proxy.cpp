// floor_proxy: the least a proxy can do per keep-alive request, as a row of
// bench/load ("floor") beside sluice, HAProxy and nginx (issue 20).
//
// A byte relay, not an HTTP proxy: each client connection gets its own
// backend connection, and whatever one side sends is sent on to the other
// unread. No parsing, no header rewriting, no pool, no timers, no logging:
// one receive and one send per direction per request, and one epoll_wait
// per batch of ready sockets. Whatever an HTTP proxy does beyond this costs
// CPU this one does not spend, so its CPU per request is the floor the
// keep-alive targets are measured against on the machine at hand.
//
// Usage: floor_proxy LISTEN_PORT BACKEND_PORT (both on 127.0.0.1; loopback
// only, like every load in bench/). Single-threaded, level-triggered epoll,
// 16 KiB buffered per direction (HAProxy's default bufsize). Either side
// closing closes both. Not for any use outside the benchmark.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "relay_sockets.h"

namespace {

constexpr std::size_t kBufferBytes = 16384;
constexpr int kMaxEvents = 256;

// One side of a relayed connection: its socket, and the bytes read from it
// that its peer has not taken yet.
struct Side {
  int fd = -1;
  Side* peer = nullptr;
  std::size_t head = 0;  // first pending byte
  std::size_t tail = 0;  // one past the last
  char buf[kBufferBytes];
};

int epoll_fd = -1;
// Sides closed during the current batch of events: a later event of the
// same batch may still name one, so they are freed after it.
std::vector<Side*> closed;

using relay::die;

void set_interest(Side* s, std::uint32_t events, int op = EPOLL_CTL_MOD) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = s;
  if (epoll_ctl(epoll_fd, op, s->fd, &ev) != 0) die("epoll_ctl");
}

// What a side waits for: to read while it has nothing pending for its
// peer, and to write while its peer has something pending for it.
std::uint32_t interest(const Side* s) {
  std::uint32_t events = 0;
  if (s->head == s->tail) events |= EPOLLIN;
  if (s->peer->head != s->peer->tail) events |= EPOLLOUT;
  return events;
}

void close_pair(Side* s) {
  for (Side* side : {s, s->peer}) {
    ::close(side->fd);
    side->fd = -1;
    closed.push_back(side);
  }
}

// Sends what `from` has pending to its peer. Returns false when the peer is
// gone.
bool flush(Side* from) {
  while (from->head != from->tail) {
    const ssize_t n =
        ::send(from->peer->fd, from->buf + from->head, from->tail - from->head, MSG_NOSIGNAL);
    if (n > 0) {
      from->head += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EAGAIN) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
  from->head = from->tail = 0;
  return true;
}

// Returns false when the pair was closed.
bool on_readable(Side* s) {
  if (s->head != s->tail) return true;  // still waiting for its peer to take the last read
  const ssize_t n = ::recv(s->fd, s->buf, kBufferBytes, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
  if (n < 0) return true;
  s->head = 0;
  s->tail = static_cast<std::size_t>(n);
  if (!flush(s)) return false;
  if (s->head != s->tail) {  // the peer is full: stop reading, wait for it
    set_interest(s, interest(s));
    set_interest(s->peer, interest(s->peer));
  }
  return true;
}

bool on_writable(Side* s) {
  if (!flush(s->peer)) return false;
  if (s->peer->head == s->peer->tail) {
    set_interest(s, interest(s));
    set_interest(s->peer, interest(s->peer));
  }
  return true;
}

void accept_all(int listener, const sockaddr_in& backend) {
  for (;;) {
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;
    const int server = relay::connect_to(backend);
    if (server < 0) {
      ::close(client);
      continue;
    }
    ::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL) | O_NONBLOCK);
    relay::no_delay(client);
    relay::no_delay(server);
    auto* c = new Side;
    auto* b = new Side;
    c->fd = client;
    b->fd = server;
    c->peer = b;
    b->peer = c;
    set_interest(c, EPOLLIN, EPOLL_CTL_ADD);
    set_interest(b, EPOLLIN, EPOLL_CTL_ADD);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto [listener, backend] = relay::ends_from(argc, argv);
  ::fcntl(listener, F_SETFL, ::fcntl(listener, F_GETFL) | O_NONBLOCK);
  epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) die("epoll_create1");
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;  // the listener
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &lev) != 0) die("epoll_ctl");
  std::fprintf(stderr, "floor_proxy: 127.0.0.1:%s -> 127.0.0.1:%s\n", argv[1], argv[2]);
  epoll_event events[kMaxEvents];
  for (;;) {
    const int n = ::epoll_wait(epoll_fd, events, kMaxEvents, -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      auto* s = static_cast<Side*>(events[i].data.ptr);
      if (s == nullptr) {
        accept_all(listener, backend);
        continue;
      }
      if (s->fd < 0) continue;
      bool open = true;
      if (events[i].events & (EPOLLOUT | EPOLLERR)) open = on_writable(s);
      if (open && events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) open = on_readable(s);
      if (!open) close_pair(s);
    }
    for (Side* s : closed)
      delete s;
    closed.clear();
  }
}
