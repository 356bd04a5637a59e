#include "proxy/proxy_header_reader.h"

#include <spdlog/spdlog.h>
#include <cstring>
#include <string_view>

#include "core/buffer_pool.h"
#include "core/socket.h"
#include "http/proxy_protocol.h"

namespace sluice::proxy {

Task<bool> read_proxy_header(Socket& sock, Buffer& buf, std::size_t& used, SocketAddress& source,
                             SocketAddress& destination, std::uint64_t timeout_ms,
                             const char* listener) {
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
    auto r = co_await sock.read(std::span<char>(buf.data() + used, buf.capacity() - used),
                                deadline > now ? deadline - now : 1);
    if (!r) co_return false;
    used += *r;
  }
}

}  // namespace sluice::proxy
