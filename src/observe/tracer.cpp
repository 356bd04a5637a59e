#include "observe/tracer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "core/address.h"
#include "observe/otlp_json.h"
#include "observe/request_record.h"

namespace sluice::observe {
namespace {

// How often the exporter looks at the queues between flushes: a full
// batch leaves within this, a partial one within flush_interval.
constexpr std::chrono::milliseconds kPoll{50};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Connects within `timeout`; the socket is then blocking with `timeout` on
// each send and receive.
bool connect_within(int fd, const SocketAddress& to, std::chrono::milliseconds timeout,
                    std::string& why) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, to.sa(), to.length()) != 0) {
    if (errno != EINPROGRESS) {
      why = std::strerror(errno);
      return false;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      why = "connect timed out";
      return false;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      why = std::strerror(err);
      return false;
    }
  }
  ::fcntl(fd, F_SETFL, flags);
  const timeval tv = to_timeval(timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return true;
}

bool send_all(int fd, std::string_view data, std::string& why) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      why = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? "send timed out"
                                                               : std::strerror(errno);
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The status of the response's status line ("HTTP/1.1 200 OK"); 0 when
// none came.
int read_status(int fd, std::string& why) {
  std::string in;
  char buf[512];
  while (in.find("\r\n") == std::string::npos && in.size() < 4096) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      why = n == 0 ? "the collector closed the connection without an answer"
            : (errno == EAGAIN || errno == EWOULDBLOCK) ? "no answer in time"
                                                        : std::strerror(errno);
      return 0;
    }
    in.append(buf, static_cast<std::size_t>(n));
  }
  if (in.size() < 12 || !in.starts_with("HTTP/1.") || in[8] != ' ') {
    why = "not an HTTP/1 response";
    return 0;
  }
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (in[i] < '0' || in[i] > '9') {
      why = "not an HTTP/1 response";
      return 0;
    }
    status = status * 10 + (in[i] - '0');
  }
  return status;
}

}  // namespace

std::string TracerSettings::endpoint() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + path;
}

Tracer::Tracer(TracerSettings settings, std::size_t workers) : settings_(std::move(settings)) {
  workers = std::max<std::size_t>(workers, 1);
  const std::size_t per_worker =
      std::max<std::size_t>(1, (settings_.queue + workers - 1) / workers);
  for (std::size_t i = 0; i < workers; ++i) {
    auto q = std::make_unique<Queue>();
    q->slots = std::make_unique<Span[]>(per_worker);
    q->capacity = per_worker;
    queues_.push_back(std::move(q));
  }
  settings_.batch = std::max<std::size_t>(settings_.batch, 1);
}

Tracer::~Tracer() {
  stop();
}

void Tracer::start() {
  thread_ = std::thread([this] { run(); });
}

void Tracer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Tracer::finish(std::size_t worker, const RequestRecord& record) {
  if (!record.trace.valid || !record.trace.sampled) return;
  Queue& q = *queues_[worker % queues_.size()];
  const std::uint64_t tail = q.tail.load(std::memory_order_relaxed);
  // Acquire: the exporter has finished reading the slots it released.
  if (tail - q.head.load(std::memory_order_acquire) >= q.capacity) {
    q.dropped.add();
    return;
  }
  q.slots[tail % q.capacity].fill(record);
  q.tail.store(tail + 1, std::memory_order_release);  // the slot is complete
}

std::uint64_t Tracer::dropped() const {
  std::uint64_t n = export_dropped_.get();
  for (const auto& q : queues_)
    n += q->dropped.get();
  return n;
}

std::size_t Tracer::pending() const {
  std::size_t n = 0;
  for (const auto& q : queues_) {
    n += static_cast<std::size_t>(q->tail.load(std::memory_order_acquire) -
                                  q->head.load(std::memory_order_relaxed));
  }
  return n;
}

// The exporter thread: wakes every kPoll and sends once a batch is full
// or flush_interval has passed since the last send. While the collector
// fails, it tries one batch per flush_interval: a collector that times
// out holds the exporter, never a worker, and the queues drop meanwhile.
void Tracer::run() {
  auto last_flush = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::min(kPoll, settings_.flush_interval), [this] { return stopping_; });
      if (stopping_) break;
    }
    const bool due = std::chrono::steady_clock::now() - last_flush >= settings_.flush_interval;
    if (!due && (failing_ || pending() < settings_.batch)) continue;
    while (export_batch() && !failing_ && !stopping() && pending() >= settings_.batch) {
    }
    last_flush = std::chrono::steady_clock::now();
  }
  // What is left goes once, unless the collector is failing: stopping
  // costs at most one timeout. Whatever does not go is counted as lost.
  while (!failing_ && export_batch()) {
  }
  drop_pending();
  spdlog::info("tracing: {} span(s) exported, {} dropped", exported(), dropped());
}

bool Tracer::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void Tracer::drop_pending() {
  for (auto& q : queues_) {
    const std::uint64_t tail = q->tail.load(std::memory_order_acquire);
    export_dropped_.add(tail - q->head.load(std::memory_order_relaxed));
    q->head.store(tail, std::memory_order_release);
  }
}

bool Tracer::export_batch() {
  OtlpJsonWriter doc(body_, settings_.service_name);
  std::size_t taken = 0;
  for (std::size_t k = 0; k < queues_.size() && taken < settings_.batch; ++k) {
    Queue& q = *queues_[(next_queue_ + k) % queues_.size()];
    std::uint64_t head = q.head.load(std::memory_order_relaxed);
    const std::uint64_t tail = q.tail.load(std::memory_order_acquire);
    for (; head != tail && taken < settings_.batch; ++head, ++taken) {
      doc.append(q.slots[head % q.capacity]);
    }
    q.head.store(head, std::memory_order_release);  // the slots are free again
  }
  next_queue_ = (next_queue_ + 1) % queues_.size();
  if (taken == 0) return false;
  doc.finish();
  std::string why;
  if (post(body_, why)) {
    exported_.add(taken);
    if (failing_) spdlog::info("tracing: exporting spans to {} again", settings_.endpoint());
    failing_ = false;
  } else {
    export_dropped_.add(taken);
    if (!failing_) {
      spdlog::warn("tracing: cannot export spans to {}: {}; dropping them until it answers",
                   settings_.endpoint(), why);
    }
    failing_ = true;
  }
  return true;
}

// One POST on a connection of its own (Connection: close): batches leave
// at most a few times a second, and a fresh connection needs no state kept
// across a collector's restarts.
bool Tracer::post(const std::string& body, std::string& why) {
  const bool v6 = settings_.host.find(':') != std::string::npos;
  const std::string authority =
      (v6 ? "[" + settings_.host + "]" : settings_.host) + ":" + std::to_string(settings_.port);
  auto to = SocketAddress::resolve(authority);  // the exporter's thread: blocking is fine
  if (!to) {
    why = "cannot resolve " + authority;
    return false;
  }
  Fd fd(::socket(to->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    why = std::strerror(errno);
    return false;
  }
  if (!connect_within(fd.get(), *to, settings_.timeout, why)) return false;
  std::string head =
      "POST " + settings_.path + " HTTP/1.1\r\nHost: " + authority +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n";
  if (!send_all(fd.get(), head, why) || !send_all(fd.get(), body, why)) return false;
  const int status = read_status(fd.get(), why);
  if (status == 0) return false;
  if (status < 200 || status > 299) {
    why = "the collector answered " + std::to_string(status);
    return false;
  }
  return true;
}

}  // namespace sluice::observe
