// One connection to a backend server. Between exchanges it sits in its
// worker's UpstreamPool, still watched by the event loop: when it becomes
// readable while idle, its stream judges whether it is still usable (a
// plain socket is not once the server closed it or sent anything; a TLS
// stream will shrug off a session ticket), and the pool drops it if not.
#pragma once

#include <cstdint>
#include <memory>

#include "core/socket.h"
#include "proxy/backend.h"
#include "tls/tls_stream.h"

namespace sluice::proxy {

class UpstreamPool;

class UpstreamConnection final : public IoHandler {
 public:
  UpstreamConnection(EventLoop& loop, int fd, DestinationId destination)
      : sock_(loop, fd), destination_(destination) {}
  // A connection with TLS set up on `fd` already (handed over by another
  // worker).
  UpstreamConnection(EventLoop& loop, tls::TlsStream::Released secure, DestinationId destination)
      : sock_(loop, -1),
        tls_(std::make_unique<tls::TlsStream>(loop, secure.fd, secure.ssl)),
        destination_(destination) {}
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  // The byte stream the exchange talks through: the socket (held by
  // value: no allocation per plain connection), or TLS over it.
  ByteStream& stream() { return tls_ ? static_cast<ByteStream&>(*tls_) : sock_; }
  // Moves the socket's descriptor under TLS (`ssl` set up for the
  // connecting side); the handshake is the caller's.
  tls::TlsStream& start_tls(SSL* ssl) {
    tls_ = std::make_unique<tls::TlsStream>(sock_.loop(), sock_.release(), ssl);
    return *tls_;
  }
  // Unwatched descriptor (and TLS state) for another worker's loop.
  tls::TlsStream::Released release() {
    return tls_ ? tls_->release() : tls::TlsStream::Released{sock_.release(), nullptr};
  }
  DestinationId destination() const { return destination_; }
  // The protocol ALPN agreed on (RFC 7301); empty on plain TCP or none.
  std::string_view alpn() const { return tls_ ? tls_->alpn() : std::string_view(); }
  // Exchanges completed on this connection; > 0 means it is being reused.
  std::uint64_t exchanges() const { return exchanges_; }
  void count_exchange() { ++exchanges_; }
  void set_exchanges(std::uint64_t n) { exchanges_ = n; }
  // The server's own idle limit, from its "Keep-Alive: timeout=N" (0: none).
  void set_server_idle_timeout(std::uint64_t ms) { server_idle_timeout_ms_ = ms; }
  // When the connection last finished an exchange (loop clock).
  std::uint64_t idle_since_ms() const { return idle_since_ms_; }

 private:
  friend class UpstreamPool;
  // Idle only: readable; asks the stream whether it is still usable.
  void on_io(std::uint32_t events) override;

  Socket sock_;
  std::unique_ptr<tls::TlsStream> tls_;  // null: plain TCP
  DestinationId destination_;
  std::uint64_t exchanges_ = 0;
  std::uint64_t server_idle_timeout_ms_ = 0;
  std::uint64_t idle_since_ms_ = 0;
  // While idle in a pool:
  UpstreamPool* pool_ = nullptr;
  std::uint64_t expires_ms_ = 0;
  UpstreamConnection* newer_ = nullptr;
  UpstreamConnection* older_ = nullptr;
};

}  // namespace sluice::proxy
