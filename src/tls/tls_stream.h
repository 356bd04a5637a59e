// TLS over a non-blocking socket: the second ByteStream. Its transport
// hooks are SSL_read / SSL_write / SSL_peek over the descriptor; the
// awaitables, readiness, timeouts and cancellation are ByteStream's, so
// every session (HTTP/1, TCP tunnel) runs over it unchanged. A TLS read may
// have to write (and the reverse); the hooks say so and the base waits on
// the right readiness.
//
// Memory: OpenSSL's record buffers are released whenever they are empty
// (SSL_MODE_RELEASE_BUFFERS), so an idle TLS connection holds its SSL
// state and no buffer.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/byte_stream.h"
#include "core/task.h"

namespace sluice::tls {

class TlsStream final : public sluice::ByteStream {
 public:
  // Takes ownership of the connected non-blocking `fd` and of `ssl`, set up
  // for the accepting or the connecting side (ServerContext::new_ssl,
  // ClientContext::new_ssl).
  TlsStream(EventLoop& loop, int fd, SSL* ssl);
  ~TlsStream() override;

  // Runs the handshake within `timeout_ms` (0: none). False: the handshake
  // failed, timed out or was cancelled; failure() says why.
  Task<bool> handshake(std::uint64_t timeout_ms);
  // Why the handshake failed, in OpenSSL's words ("certificate verify
  // failed: unable to get local issuer certificate", "timed out").
  const std::string& failure() const;
  // The handshake failed because it took too long (or was cancelled).
  bool timed_out() const { return timed_out_; }

  // After the handshake:
  std::string_view alpn() const;         // the protocol agreed; empty: none
  std::string_view server_name() const;  // the SNI the client sent; empty: none
  bool resumed() const;                  // an abbreviated handshake (a session resumed)
  const char* version() const;           // "TLSv1.3"
  // The client certificate's subject (RFC 2253) when one was presented and
  // verified; empty otherwise.
  std::string peer_subject() const;
  SSL* ssl() const { return ssl_; }

  // Hands the connection over (to another worker's loop): the descriptor
  // and the TLS state, both unwatched and untouched; the stream is closed
  // afterwards without closing either.
  struct Released {
    int fd = -1;
    SSL* ssl = nullptr;
  };
  Released release();

  // ByteStream
  bool is_plain_socket() const override { return false; }
  bool is_secure() const override { return true; }
  // A session ticket or a key update read while idle is TLS's own business;
  // an application byte, a close_notify or an error make the stream unusable.
  bool idle_still_usable() override { return nothing_to_read(); }
  // SSL_MODE_RELEASE_BUFFERS frees a record buffer only when a read or a
  // write empties it; the handshake's read buffer (17 KiB) would stay with a
  // connection that goes idle before its first request. Kept when it still
  // holds bytes.
  void shed_buffers() override;

 private:
  Transfer read_some(std::span<char> buf) override;
  Transfer write_some(const iovec* iov, int count, int flags) override;
  Transfer peek_some() override;
  void shutdown_transport_write() override;
  void close_transport(bool reset) override;
  Transfer outcome_of(int ret);
  void fail(std::string why) { failure_ = std::make_unique<std::string>(std::move(why)); }

  SSL* ssl_;
  // Set only when the handshake failed: an idle connection keeps 8 bytes
  // for it rather than an empty std::string's 32.
  std::unique_ptr<std::string> failure_;
  bool timed_out_ = false;
  bool sent_close_notify_ = false;
};

}  // namespace sluice::tls
