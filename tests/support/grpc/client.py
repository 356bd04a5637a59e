#!/usr/bin/python3
"""A gRPC client for sluice's integration tests: client.py TARGET CALL [ARG].

Prints one line per result and exits 0 when the call went as expected:
  unary            "unary echo:hello"
  collect          "collect a,b,c"
  count N:SIZE     "count N messages, B bytes, ok" (contents checked)
  chat             "chat re:1 re:2 re:3"
  fail             "fail FAILED_PRECONDITION 'not today' x-why=because x-bin-bin=0001"
  slow N:SIZE FIFO reads one message, prints "first", waits until a line
                   can be read from FIFO, then reads the rest as count does
Channel: insecure (h2c with prior knowledge), BDP probing off so that the
client's own window stays at its initial size.
"""
import sys

import grpc


def ident(b):
    return b


def check_count(messages, n, size):
    for i, m in enumerate(messages):
        if m != bytes([ord("a") + i % 26]) * size:
            return False
    return len(messages) == n


def main():
    target, call = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    channel = grpc.insecure_channel(target, options=[("grpc.http2.bdp_probe", 0)])
    timeout = 60
    if call == "unary":
        r = channel.unary_unary("/test.Echo/Unary", ident, ident)(b"hello", timeout=timeout)
        print("unary " + r.decode(), flush=True)
    elif call == "collect":
        r = channel.stream_unary("/test.Echo/Collect", ident, ident)(iter([b"a", b"b", b"c"]),
                                                                     timeout=timeout)
        print("collect " + r.decode(), flush=True)
    elif call in ("count", "slow"):
        n, size = (int(x) for x in arg.split(":"))
        stream = channel.unary_stream("/test.Echo/Count", ident, ident)(arg.encode(),
                                                                        timeout=timeout * 4)
        messages = []
        if call == "slow":
            messages.append(next(stream))
            print("first", flush=True)
            with open(sys.argv[4]) as fifo:
                fifo.readline()
        for m in stream:
            messages.append(m)
        ok = check_count(messages, n, size)
        total = sum(len(m) for m in messages)
        print(f"count {len(messages)} messages, {total} bytes, {'ok' if ok else 'BAD'}",
              flush=True)
        return 0 if ok else 1
    elif call == "chat":
        rs = channel.stream_stream("/test.Echo/Chat", ident, ident)(iter([b"1", b"2", b"3"]),
                                                                   timeout=timeout)
        print("chat " + " ".join(r.decode() for r in rs), flush=True)
    elif call == "fail":
        try:
            channel.unary_unary("/test.Echo/Fail", ident, ident)(b"x", timeout=timeout)
            print("fail: the call succeeded", flush=True)
            return 1
        except grpc.RpcError as e:
            md = dict(e.trailing_metadata() or ())
            why = md.get("x-why", "-")
            binary = md.get("x-bin-bin", b"").hex()
            print(f"fail {e.code().name} '{e.details()}' x-why={why} x-bin-bin={binary}",
                  flush=True)
    else:
        print("unknown call " + call, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        print(f"rpc error {e.code().name} '{e.details()}'", flush=True)
        sys.exit(1)
