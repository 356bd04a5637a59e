#include "proxy/accept_pipeline.h"

#include "core/worker.h"
#include "proxy/http1_session.h"
#include "proxy/proxy_header_reader.h"
#include "proxy/snapshot.h"
#include "proxy/tcp_session.h"
#include "proxy/worker_context.h"
#include "tls/handshake_failures.h"
#include "tls/server_context.h"
#include "tls/tls_stream.h"

namespace sluice::proxy {
namespace {

// A TCP tunnel's frame holds its scope here (a tunnel is never idle, and
// costs two buffers anyway).
Task<void> serve_tcp_connection(WorkerContext* ctx, Worker& worker, std::size_t listener_index,
                                ListenerCap* cap, int fd) {
  ConnectionScope scope(worker, listener_index, cap);
  co_await serve_tcp_client(scope, fd, *ctx);
}

}  // namespace

Task<void> serve_connection(WorkerContext* ctx, Worker& worker, std::size_t listener_index,
                            ListenerCap* cap, int fd, const SocketAddress& peer) {
  const ListenerSettings* listener = ctx->snapshot->in_slot(listener_index).get();
  // An HTTP session holds its own scope, so an idle connection is one frame.
  if (listener == nullptr || listener->http) {
    return serve_http_client(worker, listener_index, cap, fd, CompactAddress(peer), *ctx);
  }
  return serve_tcp_connection(ctx, worker, listener_index, cap, fd);
}

Task<bool> run_accept_stages(Socket& sock, const ListenerSettings& listener, Buffer& buf,
                             std::size_t& used, ClientAddresses& addresses, CancelToken* cancel,
                             std::unique_ptr<tls::TlsStream>& secure) {
  if (listener.proxy_protocol) {
    // Before TLS, the header is taken exactly: the bytes after it are the
    // ClientHello, and OpenSSL reads those from the socket itself.
    const bool read = co_await read_proxy_header(sock, buf, used, addresses.source,
                                                 addresses.destination, listener.header_timeout_ms,
                                                 listener.name.c_str(), listener.tls != nullptr);
    if (!read) co_return false;
  }
  if (!listener.tls) co_return true;
  SSL* ssl = listener.tls->new_ssl();
  if (ssl == nullptr) co_return false;
  EventLoop& loop = sock.loop();
  secure = std::make_unique<tls::TlsStream>(loop, sock.release(), ssl);
  secure->bind_cancel(cancel);
  const bool done = co_await secure->handshake(listener.header_timeout_ms);
  if (done) co_return true;
  tls::report_handshake_failure(
      "listener '" + listener.name + "' client " + addresses.source.to_string(), secure->failure(),
      loop.now_ms());
  secure.reset();
  co_return false;
}

}  // namespace sluice::proxy
