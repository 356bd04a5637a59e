// What happens to an accepted connection before a session serves it, in
// order: the PROXY header (when the listener expects one), the TLS
// handshake (next), and the choice of protocol (today by listener: HTTP/1
// or a TCP tunnel; next also ALPN or the HTTP/2 preface), then the session:
// http1_session.h or tcp_session.h.
//
// The stages run inside the session's own coroutine, not in one of their
// own: an idle HTTP connection is then one coroutine frame, which is what
// keeps it at a few hundred bytes.
#pragma once

#include <cstddef>
#include <memory>

#include "core/task.h"
#include "proxy/client_addresses.h"

namespace sluice {
class Buffer;
class CancelToken;
class ListenerCap;
class Socket;
class Worker;
}  // namespace sluice

namespace sluice::tls {
class TlsStream;
}

namespace sluice::proxy {

struct ListenerSettings;
struct WorkerContext;

// Serves the connection `fd`, accepted by `worker` on listener slot
// `listener_index`, with the session its listener's protocol asks for.
// Not a coroutine: the session's task is returned as it is. `peer`: the
// client as accept(2) named it (only read during the call).
Task<void> serve_connection(WorkerContext* ctx, Worker& worker, std::size_t listener_index,
                            ListenerCap* cap, int fd, const SocketAddress& peer);

// The stages before the session, on a connection whose `addresses` are the
// socket's: reads a PROXY header when the listener expects one (then
// `addresses` are the header's, and the bytes after it are in buf[0,
// used)); on a TLS listener, runs the handshake within the listener's
// header timeout, and `secure` is the stream the session talks through
// from then on (the socket's descriptor moved into it). False (logged,
// handshake failures at most once a second per cause): close the
// connection.
Task<bool> run_accept_stages(Socket& sock, const ListenerSettings& listener, Buffer& buf,
                             std::size_t& used, ClientAddresses& addresses, CancelToken* cancel,
                             std::unique_ptr<tls::TlsStream>& secure);

}  // namespace sluice::proxy
