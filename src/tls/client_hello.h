// Reads the server name and ALPN list from the first bytes a TLS client
// sends, without terminating TLS: what a listener routing by SNI needs
// before it picks a backend and passes every byte on untouched (Traefik's
// HostSNI, HAProxy's req.ssl_sni). Sans-I/O: the caller owns the socket and
// calls again with all the bytes so far until the status is not need_more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sluice::tls {

enum class ClientHelloStatus : std::uint8_t {
  need_more,  // the bytes so far are a valid prefix; read more and call again
  complete,   // the whole ClientHello was read
  not_tls,    // the stream does not start with a TLS handshake record (e.g. plain HTTP)
  malformed,  // a TLS handshake record, but the ClientHello is broken or too large
};

struct ClientHelloScan {
  ClientHelloStatus status = ClientHelloStatus::need_more;
  std::string server_name;        // SNI host_name, lower-cased; empty: none sent (complete only)
  std::vector<std::string> alpn;  // ALPN protocol names offered, in order (complete only)
  std::size_t hello_bytes = 0;    // complete: bytes of the records that carried the ClientHello
};

// `bytes`: the first bytes of the connection (all of them so far). The
// ClientHello may be split across several handshake records (RFC 8446 §5.1);
// a record of another content type before it is complete is malformed.
// A ClientHello longer than `max_hello` bytes is malformed.
//
// not_tls means the first byte is not the handshake content type (22), so a
// caller may treat the stream as something else; every other defect is
// malformed, reported as soon as the bytes so far show it. A server name is
// 1..255 bytes of [A-Za-z0-9.-] with no empty label; one trailing dot is
// dropped. The record that ends the ClientHello must end with it, so
// hello_bytes is a record boundary; bytes after it are not looked at.
// Never reads outside `bytes`; allocates at most about `max_hello` bytes.
ClientHelloScan scan_client_hello(std::span<const char> bytes, std::size_t max_hello = 16 * 1024);

}  // namespace sluice::tls
