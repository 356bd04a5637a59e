// The server side of one HTTP/2 client connection (RFC 9113), chosen by
// ALPN "h2" on a TLS listener or by the connection preface on a plain one
// (h2c with prior knowledge). One coroutine reads frames and feeds the
// codec (http/h2_connection.h); one writes what the codec queues; each
// request stream runs as a task of its own: routed exactly as an HTTP/1
// request is (request_routing.h), then answered locally or forwarded
// through an Exchange whose downstream is the stream (h2_downstream.h).
// Streams are never in each other's way: a slow backend or a client that
// does not read one response holds only its own stream.
#pragma once

#include <string>
#include <string_view>

#include "core/task.h"

namespace sluice {
class ByteStream;
class ConnectionScope;
class SocketAddress;
}  // namespace sluice

namespace sluice::proxy {

struct WorkerContext;

// Serves the HTTP/2 connection over `stream` until it ends; the caller
// then closes it. `received`: what was read already (the preface on).
// `client_subject`: a verified client certificate's subject, or empty.
Task<void> serve_h2(ConnectionScope& scope, ByteStream& stream, WorkerContext& ctx,
                    const SocketAddress& client, std::string_view client_subject,
                    std::string received);

// The client connection preface (RFC 9113 §3.4).
inline constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace sluice::proxy
