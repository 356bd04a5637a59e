#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>

namespace sluice::test {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t");
  std::size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

std::optional<std::string> HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

RawConnection::RawConnection(std::uint16_t port, const char* host, const char* source) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // Bounds a blocked connect or send, so that a proxy that stops reading
  // fails the test with a message instead of hanging it until CTest's timeout.
  const timeval send_timeout{10, 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  if (source != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source, &local.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, host, &a.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void RawConnection::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

bool RawConnection::fill(int timeout_ms) {
  if (eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  in_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<HttpResponse> RawConnection::read_response(bool head_request, int timeout_ms,
                                                         bool return_interim) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                   std::chrono::steady_clock::now())
                 .count();
    return static_cast<int>(std::max<long>(d, 0));
  };
  HttpResponse r;
  while (true) {
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(left())) return std::nullopt;
    }
    r = HttpResponse{};
    r.raw_head = in_.substr(0, end + 4);
    in_.erase(0, end + 4);
    std::size_t line_end = r.raw_head.find("\r\n");
    std::string status_line = r.raw_head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.version = status_line.substr(0, 8);
    r.status = std::atoi(status_line.substr(9, 3).c_str());
    std::size_t pos = line_end + 2;
    while (pos < r.raw_head.size() - 2) {
      std::size_t e = r.raw_head.find("\r\n", pos);
      std::string line = r.raw_head.substr(pos, e - pos);
      std::size_t colon = line.find(':');
      if (colon == std::string::npos) return std::nullopt;
      r.headers.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
      pos = e + 2;
    }
    if (r.status >= 100 && r.status < 200) {
      if (return_interim) return r;
      continue;  // interim: read the final one
    }
    break;
  }
  if (head_request || r.status == 204 || r.status == 304) return r;
  auto te = r.header("transfer-encoding");
  auto cl = r.header("content-length");
  if (te && lower(*te).find("chunked") != std::string::npos) {
    while (true) {
      std::size_t e;
      while ((e = in_.find("\r\n")) == std::string::npos) {
        if (!fill(left())) return std::nullopt;
      }
      std::size_t size = std::strtoul(in_.substr(0, e).c_str(), nullptr, 16);
      in_.erase(0, e + 2);
      if (size == 0) {
        // The trailer section: field lines up to the blank line.
        while (true) {
          while ((e = in_.find("\r\n")) == std::string::npos) {
            if (!fill(left())) return std::nullopt;
          }
          const bool blank = e == 0;
          if (!blank) r.raw_trailers.append(in_, 0, e + 2);
          in_.erase(0, e + 2);
          if (blank) break;
        }
        break;
      }
      while (in_.size() < size + 2) {
        if (!fill(left())) return std::nullopt;
      }
      r.body.append(in_, 0, size);
      in_.erase(0, size + 2);
    }
  } else if (cl) {
    std::size_t n = std::strtoul(cl->c_str(), nullptr, 10);
    while (in_.size() < n) {
      if (!fill(left())) return std::nullopt;
    }
    r.body = in_.substr(0, n);
    in_.erase(0, n);
  } else {
    while (fill(left())) {
    }
    if (!eof_) return std::nullopt;
    r.body = std::move(in_);
    in_.clear();
  }
  return r;
}

bool RawConnection::wait_closed(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!eof_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    fill(static_cast<int>(left));
  }
  return true;
}

bool RawConnection::read_until(const std::string& marker, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (in_.find(marker) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || !fill(static_cast<int>(left))) return false;
  }
  return true;
}

std::string get_body(RawConnection& c, const std::string& path) {
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")) return "<send failed>";
  auto r = c.read_response();
  return r ? r->body : "<no response>";
}

}  // namespace sluice::test
