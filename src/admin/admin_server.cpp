#include "admin/admin_server.h"

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <array>
#include <cstring>
#include <string>

#include "admin/endpoints.h"
#include "core/address.h"
#include "core/buffer_pool.h"
#include "core/listener.h"
#include "core/socket.h"
#include "core/worker.h"
#include "http/parser.h"
#include "http/serializer.h"

namespace sluice::admin {
namespace {

constexpr std::uint64_t kReadTimeoutMs = 10'000;
constexpr std::uint64_t kMaxBody = 64 * 1024 * 1024;  // a very large configuration

Task<bool> send(Socket& sock, const AdminResponse& r, bool keep_alive) {
  const std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " +
                           http::reason_phrase(r.status) + "\r\nContent-Type: " + r.content_type +
                           "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n" +
                           (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
  co_return static_cast<bool>(co_await sock.write(head, r.body, kReadTimeoutMs));
}

// One admin connection: requests one after another, each with its whole
// body read before it is handled (a configuration is small).
Task<void> serve_admin(ConnectionScope& scope, int fd, proxy::Server& server,
                       proxy::Reloader& reloader) {
  Socket sock(scope.worker().loop(), fd);
  sock.bind_cancel(&scope.cancel_token());
  Buffer buf = scope.worker().buffers().acquire();
  std::size_t used = 0;
  std::array<http::HeaderField, 64> fields;
  while (true) {
    http::RequestParser parser({8 * 1024, buf.capacity(), fields.size()}, fields);
    http::ParseState state;
    while ((state = parser.parse(std::string_view(buf.data(), used))) ==
           http::ParseState::need_more) {
      if (used == buf.capacity()) {
        co_await send(sock, {431, "text/plain", "request head too large\n"}, false);
        co_return;
      }
      scope.set_idle(used == 0);
      auto r = co_await sock.read(std::span<char>(buf.data() + used, buf.capacity() - used),
                                  kReadTimeoutMs);
      scope.set_idle(false);
      if (!r) co_return;
      used += *r;
    }
    if (state == http::ParseState::error) {
      co_await send(
          sock, {parser.error().status, "text/plain", std::string(parser.error().reason) + "\n"},
          false);
      co_return;
    }
    const http::RequestHead& head = parser.head();
    if (head.framing == http::Framing::chunked) {
      co_await send(sock, {411, "text/plain", "send the body with a Content-Length\n"}, false);
      co_return;
    }
    if (head.content_length > kMaxBody) {
      co_await send(sock, {413, "text/plain", "body too large\n"}, false);
      co_return;
    }
    std::size_t consumed = parser.head_bytes();
    std::string body(buf.data() + consumed,
                     std::min<std::size_t>(used - consumed, head.content_length));
    consumed += body.size();
    while (body.size() < head.content_length) {
      char chunk[16 * 1024];
      const std::size_t want =
          std::min<std::size_t>(sizeof chunk, head.content_length - body.size());
      auto r = co_await sock.read(std::span<char>(chunk, want), kReadTimeoutMs);
      if (!r) co_return;
      body.append(chunk, *r);
    }
    const AdminResponse response =
        handle_request(head.method_text, head.target, body, server, reloader);
    spdlog::info("admin: {} {} -> {}", head.method_text, head.target, response.status);
    const bool keep_alive = head.keep_alive && !scope.worker().stopping();
    std::memmove(buf.data(), buf.data() + consumed, used - consumed);
    used -= consumed;
    if (!co_await send(sock, response, keep_alive) || !keep_alive) co_return;
  }
}

}  // namespace

AdminServer::AdminServer(proxy::Server& server, proxy::Reloader& reloader)
    : server_(server), reloader_(reloader) {}

AdminServer::~AdminServer() {
  if (worker_) {
    worker_->request_stop(0);
    worker_->join();
  }
}

bool AdminServer::start(const std::string& listen, int inherited_fd, std::string& error) {
  int fd = inherited_fd;
  if (fd < 0) {
    auto addr = SocketAddress::resolve(listen);
    if (!addr) {
      error = "admin: cannot resolve address " + listen;
      return false;
    }
    auto opened = open_listening_socket(*addr, 128);
    if (!opened) {
      error = "admin: cannot listen on " + listen + ": " + std::strerror(opened.error().sys_errno);
      return false;
    }
    fd = *opened;
  }
  fd_ = fd;
  worker_ = std::make_unique<Worker>(0, nullptr);
  worker_->set_handler([this](ConnectionScope& scope, int conn) {
    return serve_admin(scope, conn, server_, reloader_);
  });
  worker_->add_listener(0, fd);
  worker_->start();
  spdlog::info("admin listening on {}", SocketAddress::local_of(fd).to_string());
  return true;
}

void AdminServer::stop() {
  if (worker_) {
    Worker* w = worker_.get();
    w->loop().post([w] { w->stop_accepting(); });
  }
}

}  // namespace sluice::admin
