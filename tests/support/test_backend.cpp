#include "support/test_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace sluice::test {
namespace {

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

std::string ReceivedRequest::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

// ---- BackendConnection ----

BackendConnection::~BackendConnection() {
  close();
}

void BackendConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void BackendConnection::shutdown_write() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool BackendConnection::fill(int timeout_ms) {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[16384];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  in_.append(buf, static_cast<std::size_t>(n));
  return true;
}

bool BackendConnection::readable(int timeout_ms) {
  if (!in_.empty()) return true;
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

bool BackendConnection::wait_closed(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (fd_ >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    if (::recv(fd_, buf, sizeof buf, 0) <= 0) return true;
  }
  return true;
}

bool BackendConnection::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool BackendConnection::read_request(ReceivedRequest& out, int timeout_ms) {
  out = ReceivedRequest{};
  std::size_t end;
  while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(timeout_ms)) return false;
  }
  out.raw_head = in_.substr(0, end + 4);
  in_.erase(0, end + 4);
  std::size_t line_end = out.raw_head.find("\r\n");
  const std::string line = out.raw_head.substr(0, line_end);
  const auto s1 = line.find(' ');
  const auto s2 = line.rfind(' ');
  out.method = line.substr(0, s1);
  out.target = line.substr(s1 + 1, s2 - s1 - 1);
  out.version = line.substr(s2 + 1);
  std::size_t pos = line_end + 2;
  while (pos < out.raw_head.size() - 2) {
    const std::size_t e = out.raw_head.find("\r\n", pos);
    const std::string field = out.raw_head.substr(pos, e - pos);
    const auto colon = field.find(':');
    out.headers.emplace(lower(field.substr(0, colon)), trim(field.substr(colon + 1)));
    pos = e + 2;
  }
  if (lower(out.header("transfer-encoding")) == "chunked") {
    out.chunked = true;
    while (true) {
      std::size_t le;
      while ((le = in_.find("\r\n")) == std::string::npos) {
        if (!fill(timeout_ms)) return false;
      }
      const std::size_t size = std::stoul(in_.substr(0, le), nullptr, 16);
      in_.erase(0, le + 2);
      if (size == 0) {
        // Trailers: up to the empty line.
        while (true) {
          while ((le = in_.find("\r\n")) == std::string::npos) {
            if (!fill(timeout_ms)) return false;
          }
          const bool empty = le == 0;
          if (!empty) out.raw_trailers.append(in_, 0, le + 2);
          in_.erase(0, le + 2);
          if (empty) break;
        }
        break;
      }
      while (in_.size() < size + 2) {
        if (!fill(timeout_ms)) return false;
      }
      out.body += in_.substr(0, size);
      in_.erase(0, size + 2);
    }
  } else if (out.has("content-length")) {
    const std::size_t length = std::stoul(out.header("content-length"));
    while (in_.size() < length) {
      if (!fill(timeout_ms)) return false;
    }
    out.body = in_.substr(0, length);
    in_.erase(0, length);
  }
  backend_.record(out);
  return true;
}

// ---- TestBackend ----

TestBackend::TestBackend(Script script) : TestBackend(std::move(script), "127.0.0.1", 0) {}

TestBackend::TestBackend(Script script, const std::string& ipv4, std::uint16_t port)
    : script_(std::move(script)), host_(ipv4) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, ipv4.c_str(), &a.sin_addr);
  a.sin_port = htons(port);
  ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(listen_fd_, 512);
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  if (::pipe(wake_fd_) != 0) wake_fd_[0] = wake_fd_[1] = -1;
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestBackend::~TestBackend() {
  stopping_ = true;
  if (wake_fd_[1] >= 0) {
    [[maybe_unused]] auto n = ::write(wake_fd_[1], "x", 1);
  }
  acceptor_.join();
  {
    // Unblock scripts waiting on their sockets.
    std::lock_guard lock(mutex_);
    for (int fd : connection_fds_)
      ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_)
    t.join();
  ::close(listen_fd_);
  ::close(wake_fd_[0]);
  ::close(wake_fd_[1]);
}

void TestBackend::accept_loop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) <= 0) continue;
    if (p[1].revents != 0) break;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A script blocked on a proxy that stops reading fails after 10 s
    // instead of hanging the test.
    const timeval send_timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    const int index = ++accepted_;
    const int now_open = ++open_;
    int seen = max_open_.load();
    while (now_open > seen && !max_open_.compare_exchange_weak(seen, now_open)) {
    }
    std::lock_guard lock(mutex_);
    connection_fds_.push_back(fd);
    threads_.emplace_back([this, fd, index] {
      {
        BackendConnection c(*this, fd, index);
        script_(c);
        std::lock_guard l(mutex_);
        // Forget the descriptor before closing it: the destructor must never
        // shut down a number the kernel has handed out again.
        connection_fds_.erase(std::find(connection_fds_.begin(), connection_fds_.end(), fd));
        c.close();
      }
      connection_closed();
    });
  }
}

void TestBackend::connection_closed() {
  --open_;
  std::lock_guard lock(mutex_);
  ++closed_;
  closed_cv_.notify_all();
}

bool TestBackend::wait_for_closed_connections(int n, int timeout_ms) {
  std::unique_lock lock(mutex_);
  return closed_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return closed_ >= n; });
}

bool TestBackend::wait_for_requests(std::size_t n, int timeout_ms) {
  std::unique_lock lock(mutex_);
  return closed_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return requests_.size() >= n; });
}

void TestBackend::record(const ReceivedRequest& r) {
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(r);
  }
  closed_cv_.notify_all();
}

std::vector<ReceivedRequest> TestBackend::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

TestBackend::Script TestBackend::echo(bool chunked_response) {
  return [chunked_response](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      std::vector<std::string> headers = {"X-Method: " + r.method, "X-Target: " + r.target,
                                          "X-Body-Length: " + std::to_string(r.body.size()),
                                          std::string("X-Chunked: ") + (r.chunked ? "yes" : "no")};
      std::string out;
      if (r.method == "HEAD") {
        headers.push_back("Content-Length: " + std::to_string(r.body.size()));
        out = make_response(200, "", headers);
      } else if (chunked_response) {
        headers.push_back("Transfer-Encoding: chunked");
        out = make_response(200, "", headers) + chunk_body(r.body);
      } else {
        out = make_response(200, r.body, headers);
      }
      if (!c.send(out)) return;
    }
  };
}

TestBackend::Script TestBackend::websocket_echo(int idle_ms) {
  return [idle_ms](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    if (r.header("upgrade") != "websocket") return;
    c.send(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    // Echo raw frames until the proxy passes on the client's FIN.
    while (c.readable(idle_ms)) {
      char buf[4096];
      const ssize_t n = ::recv(c.fd_for_tests(), buf, sizeof buf, 0);
      if (n <= 0) break;
      if (!c.send(std::string(buf, static_cast<std::size_t>(n)))) break;
    }
  };
}

std::string make_response(int status, const std::string& body,
                          const std::vector<std::string>& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " Status\r\n";
  bool framed = false;
  for (const auto& h : headers) {
    out += h + "\r\n";
    const std::string l = lower(h);
    if (l.rfind("content-length:", 0) == 0 || l.rfind("transfer-encoding:", 0) == 0) framed = true;
  }
  if (!framed) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  return out + body;
}

std::string chunk_body(const std::string& body, std::size_t chunk) {
  std::string out;
  char size[32];
  for (std::size_t pos = 0; pos < body.size(); pos += chunk) {
    const std::size_t n = std::min(chunk, body.size() - pos);
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size + body.substr(pos, n) + "\r\n";
  }
  return out + "0\r\n\r\n";
}

}  // namespace sluice::test
