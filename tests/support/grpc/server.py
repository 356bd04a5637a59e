#!/usr/bin/python3
"""A gRPC server for sluice's integration tests (grpcio, no generated code).

Service test.Echo, messages are raw bytes:
  Unary         answers b"echo:" + the request
  Collect       (client streaming) answers the requests joined by b","
  Count         (server streaming) the request is b"N:SIZE": N messages of
                SIZE bytes, message i filled with the byte ord('a') + i % 26;
                prints "yielded I" after each I-th 100 messages and "done"
                at the end
  Chat          (bidirectional) answers each request with b"re:" + it
  Fail          ends with FAILED_PRECONDITION, details "not today" and the
                trailing metadata x-why: because, x-bin-bin: b"\\x00\\x01"

Listens on 127.0.0.1 (a port from the kernel) without TLS and prints
"PORT <n>" once it serves.
"""
import sys
from concurrent import futures

import grpc


def ident(b):
    return b


def unary(request, context):
    return b"echo:" + request


def collect(request_iterator, context):
    return b",".join(request_iterator)


def count(request, context):
    n, size = (int(x) for x in request.decode().split(":"))
    for i in range(n):
        yield bytes([ord("a") + i % 26]) * size
        if (i + 1) % 100 == 0:
            print(f"yielded {i + 1}", flush=True)
    print("done", flush=True)


def chat(request_iterator, context):
    for r in request_iterator:
        yield b"re:" + r


def fail(request, context):
    context.set_trailing_metadata((("x-why", "because"), ("x-bin-bin", b"\x00\x01")))
    context.set_code(grpc.StatusCode.FAILED_PRECONDITION)
    context.set_details("not today")
    return b""


def main():
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, ident, ident),
        "Collect": grpc.stream_unary_rpc_method_handler(collect, ident, ident),
        "Count": grpc.unary_stream_rpc_method_handler(count, ident, ident),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, ident, ident),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, ident, ident),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.http2.bdp_probe", 0)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
