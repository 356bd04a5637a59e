#include "proxy/proxy_header_reader.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "core/buffer_pool.h"
#include "core/socket.h"
#include "http/proxy_protocol.h"

namespace sluice::proxy {

namespace {

// Peeks at what has arrived, into buf[0, used): the bytes stay queued.
// False when the client closed or failed; 0 new bytes means wait.
bool peek_into(Socket& sock, Buffer& buf, std::size_t& used) {
  const ssize_t n = ::recv(sock.fd(), buf.data(), buf.capacity(), MSG_PEEK);
  if (n > 0) {
    if (static_cast<std::size_t>(n) == used) sock.note_read_drained();  // nothing new yet
    used = static_cast<std::size_t>(n);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    sock.note_read_drained();
    return true;
  }
  return false;
}

}  // namespace

Task<bool> read_proxy_header(Socket& sock, Buffer& buf, std::size_t& used, SocketAddress& source,
                             SocketAddress& destination, std::uint64_t timeout_ms,
                             const char* listener, bool exact) {
  EventLoop& loop = sock.loop();
  const std::uint64_t deadline = loop.now_ms() + timeout_ms;
  while (true) {
    http::ProxyHeader header;
    std::size_t consumed = 0;
    const char* error = "";
    const auto state =
        http::parse_proxy_header(std::string_view(buf.data(), used), header, consumed, error);
    if (state == http::ProxyParse::complete) {
      if (!header.local) {
        source = header.source;
        destination = header.destination;
      }
      if (exact) {
        // Take exactly the header off the socket; it was peeked, so it is there.
        const ssize_t n = ::recv(sock.fd(), buf.data(), consumed, 0);
        used = 0;
        co_return n == static_cast<ssize_t>(consumed);
      }
      std::memmove(buf.data(), buf.data() + consumed, used - consumed);
      used -= consumed;
      co_return true;
    }
    if (state == http::ProxyParse::error) {
      spdlog::warn("listener '{}' client {}: {}; closing", listener,
                   SocketAddress::peer_of(sock.fd()).to_string(), error);
      co_return false;
    }
    const std::uint64_t now = loop.now_ms();
    const std::uint64_t left = deadline > now ? deadline - now : 1;
    if (exact) {
      if (used == buf.capacity()) co_return false;  // no header is this long
      const std::size_t before = used;
      if (!peek_into(sock, buf, used)) co_return false;
      if (used == before) {
        const bool more = (co_await sock.wait_readable(left)).ok();
        if (!more) co_return false;
        if (!peek_into(sock, buf, used)) co_return false;
        if (used == before && sock.peer_half_closed()) co_return false;
      }
      continue;
    }
    auto r = co_await sock.read(std::span<char>(buf.data() + used, buf.capacity() - used), left);
    if (!r) co_return false;
    used += *r;
  }
}

}  // namespace sluice::proxy
