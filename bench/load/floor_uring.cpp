// floor_uring: floor_proxy's byte relay on io_uring instead of epoll, to
// measure on the machine at hand what batching a turn's receives and sends
// into one system call would be worth (docs/architecture.md, "Polling
// before sleeping"; docs/benchmarks.md, "The floor on io_uring").
//
// The same relay as floor_proxy.cpp: a backend connection per client, each
// side's bytes sent on to the other unread, 16 KiB per direction, one
// receive outstanding per side while it has nothing pending. Each turn
// submits every queued receive and send and waits for at least one
// completion in a single io_uring_enter; completions are read from the
// shared ring. Raw system calls (linux/io_uring.h), no liburing; deferred
// task running and a single issuer, so the kernel completes work only
// inside that call.
//
// Usage: floor_uring LISTEN_PORT BACKEND_PORT (127.0.0.1 only). Not for any
// use outside the benchmark.
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "relay_sockets.h"

namespace {

constexpr std::size_t kBufferBytes = 16384;
constexpr unsigned kEntries = 4096;
constexpr std::uint64_t kAcceptToken = 1;  // sides are 8-byte aligned: never 1
constexpr std::uint64_t kSendBit = 2;      // on a side's address: a send's completion

struct Pair;

// One side of a relayed connection and the bytes read from it that its
// peer has not taken yet.
struct alignas(8) Side {
  int fd = -1;
  Side* peer = nullptr;
  Pair* pair = nullptr;
  std::size_t sent = 0;
  std::size_t length = 0;
  char buf[kBufferBytes];
};

struct Pair {
  Side client;
  Side server;
  int in_flight = 0;
  bool dead = false;
};

using relay::die;

// The submission and completion rings, mapped from the kernel.
struct Ring {
  int fd = -1;
  unsigned* sq_head = nullptr;
  unsigned* sq_tail = nullptr;
  unsigned sq_mask = 0;
  unsigned sq_entries = 0;
  unsigned* sq_array = nullptr;
  io_uring_sqe* sqes = nullptr;
  unsigned* cq_head = nullptr;
  unsigned* cq_tail = nullptr;
  unsigned cq_mask = 0;
  io_uring_cqe* cqes = nullptr;
  unsigned local_tail = 0;  // SQEs filled, not yet published
  unsigned published = 0;   // SQEs published, not yet submitted
} ring;

template <typename T>
T* at(void* base, unsigned offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

void setup_ring() {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  ring.fd = static_cast<int>(::syscall(__NR_io_uring_setup, kEntries, &p));
  if (ring.fd < 0) die("io_uring_setup");
  if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
    std::fprintf(stderr, "floor_uring: the kernel maps the rings separately\n");
    std::exit(1);
  }
  const std::size_t sq_bytes = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  const std::size_t cq_bytes = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const std::size_t bytes = sq_bytes > cq_bytes ? sq_bytes : cq_bytes;
  void* rings = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring.fd,
                       IORING_OFF_SQ_RING);
  if (rings == MAP_FAILED) die("mmap rings");
  void* sqes = ::mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, ring.fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) die("mmap sqes");
  ring.sq_head = at<unsigned>(rings, p.sq_off.head);
  ring.sq_tail = at<unsigned>(rings, p.sq_off.tail);
  ring.sq_mask = *at<unsigned>(rings, p.sq_off.ring_mask);
  ring.sq_entries = p.sq_entries;
  ring.sq_array = at<unsigned>(rings, p.sq_off.array);
  ring.sqes = static_cast<io_uring_sqe*>(sqes);
  ring.cq_head = at<unsigned>(rings, p.cq_off.head);
  ring.cq_tail = at<unsigned>(rings, p.cq_off.tail);
  ring.cq_mask = *at<unsigned>(rings, p.cq_off.ring_mask);
  ring.cqes = at<io_uring_cqe>(rings, p.cq_off.cqes);
  ring.local_tail = *ring.sq_tail;
}

void enter(unsigned min_complete) {
  std::atomic_ref<unsigned>(*ring.sq_tail).store(ring.local_tail, std::memory_order_release);
  const unsigned to_submit = ring.published;
  ring.published = 0;
  const long n = ::syscall(__NR_io_uring_enter, ring.fd, to_submit, min_complete,
                           IORING_ENTER_GETEVENTS, nullptr, 0);
  if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) die("io_uring_enter");
}

io_uring_sqe* next_sqe() {
  const unsigned head = std::atomic_ref<unsigned>(*ring.sq_head).load(std::memory_order_acquire);
  if (ring.local_tail - head >= ring.sq_entries) enter(0);  // full: submit what is queued
  const unsigned index = ring.local_tail & ring.sq_mask;
  ring.sq_array[index] = index;
  ++ring.local_tail;
  ++ring.published;
  io_uring_sqe* sqe = &ring.sqes[index];
  std::memset(sqe, 0, sizeof *sqe);
  return sqe;
}

void post_recv(Side* s) {
  io_uring_sqe* sqe = next_sqe();
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = s->fd;
  sqe->addr = reinterpret_cast<std::uint64_t>(s->buf);
  sqe->len = kBufferBytes;
  sqe->user_data = reinterpret_cast<std::uint64_t>(s);
  ++s->pair->in_flight;
}

void post_send(Side* from) {
  io_uring_sqe* sqe = next_sqe();
  sqe->opcode = IORING_OP_SEND;
  sqe->fd = from->peer->fd;
  sqe->addr = reinterpret_cast<std::uint64_t>(from->buf + from->sent);
  sqe->len = static_cast<unsigned>(from->length - from->sent);
  sqe->msg_flags = MSG_NOSIGNAL;
  sqe->user_data = reinterpret_cast<std::uint64_t>(from) | kSendBit;
  ++from->pair->in_flight;
}

void post_accept(int listener) {
  io_uring_sqe* sqe = next_sqe();
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = listener;
  sqe->accept_flags = SOCK_CLOEXEC;
  sqe->user_data = kAcceptToken;
}

// Ends a pair: both sockets shut so that the outstanding receives return,
// then closed and freed once the last of its operations has completed.
void kill(Pair* p) {
  if (!p->dead) {
    p->dead = true;
    ::shutdown(p->client.fd, SHUT_RDWR);
    ::shutdown(p->server.fd, SHUT_RDWR);
  }
}

void finish_op(Pair* p) {
  if (--p->in_flight == 0 && p->dead) {
    ::close(p->client.fd);
    ::close(p->server.fd);
    delete p;
  }
}

void on_accept(int client, const sockaddr_in& backend) {
  const int server = relay::connect_to(backend);
  if (server < 0) {
    ::close(client);
    return;
  }
  relay::no_delay(client);
  relay::no_delay(server);
  auto* p = new Pair;
  p->client.fd = client;
  p->server.fd = server;
  p->client.peer = &p->server;
  p->server.peer = &p->client;
  p->client.pair = p->server.pair = p;
  post_recv(&p->client);
  post_recv(&p->server);
}

void on_completion(const io_uring_cqe& cqe, int listener, const sockaddr_in& backend) {
  if (cqe.user_data == kAcceptToken) {
    if (cqe.res >= 0) on_accept(cqe.res, backend);
    post_accept(listener);
    return;
  }
  const bool send = (cqe.user_data & kSendBit) != 0;
  auto* s = reinterpret_cast<Side*>(cqe.user_data & ~kSendBit);
  Pair* p = s->pair;
  if (p->dead || cqe.res <= 0) {
    kill(p);
  } else if (!send) {
    s->sent = 0;
    s->length = static_cast<std::size_t>(cqe.res);
    post_send(s);
  } else {
    s->sent += static_cast<std::size_t>(cqe.res);
    if (s->sent < s->length) {
      post_send(s);
    } else {
      post_recv(s);
    }
  }
  finish_op(p);
}

}  // namespace

int main(int argc, char** argv) {
  const auto [listener, backend] = relay::ends_from(argc, argv);
  setup_ring();
  post_accept(listener);
  std::fprintf(stderr, "floor_uring: 127.0.0.1:%s -> 127.0.0.1:%s\n", argv[1], argv[2]);
  for (;;) {
    enter(1);
    unsigned head = *ring.cq_head;
    const unsigned tail = std::atomic_ref<unsigned>(*ring.cq_tail).load(std::memory_order_acquire);
    for (; head != tail; ++head)
      on_completion(ring.cqes[head & ring.cq_mask], listener, backend);
    std::atomic_ref<unsigned>(*ring.cq_head).store(head, std::memory_order_release);
  }
}
