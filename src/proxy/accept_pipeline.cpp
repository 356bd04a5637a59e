#include "proxy/accept_pipeline.h"

#include "core/worker.h"
#include "proxy/http1_session.h"
#include "proxy/proxy_header_reader.h"
#include "proxy/snapshot.h"
#include "proxy/tcp_session.h"
#include "proxy/worker_context.h"

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
                            ListenerCap* cap, int fd) {
  const ListenerSettings* listener = ctx->snapshot->in_slot(listener_index).get();
  // An HTTP session holds its own scope, so an idle connection is one frame.
  if (listener == nullptr || listener->http) {
    return serve_http_client(worker, listener_index, cap, fd, *ctx);
  }
  return serve_tcp_connection(ctx, worker, listener_index, cap, fd);
}

Task<bool> run_accept_stages(Socket& sock, const ListenerSettings& listener, Buffer& buf,
                             std::size_t& used, ClientAddresses& addresses) {
  if (!listener.proxy_protocol) co_return true;
  const bool read =
      co_await read_proxy_header(sock, buf, used, addresses.source, addresses.destination,
                                 listener.header_timeout_ms, listener.name.c_str());
  co_return read;
}

}  // namespace sluice::proxy
