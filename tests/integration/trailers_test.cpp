// Trailer fields (RFC 9110 §6.5, RFC 9112 §7.1.2) through the proxy over
// HTTP/1.1, both ways: a chunked response's trailer section (gRPC's
// grpc-status travels there) reaches an HTTP/1.1 client, a chunked
// request's reaches the server, fields that have no place in trailers are
// dropped, and trailer sections over their bounds fail: a request's with
// 431, as a head over the same bounds (RFC 6585 §5), a response's as other
// malformed chunked bodies do. Issue 17 (HTTP/2 and gRPC) builds on this seam.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

constexpr const char* kGrpcTrailers =
    "grpc-status: 0\r\n"
    "grpc-message: all good\r\n"
    "x-checksum: 5eb63bbbe01eeed093cb22bb8f5acdc3\r\n";

// "hello world" in two chunks, then the last chunk with `trailers` (field
// lines with their CRLFs) and the blank line.
std::string chunked_with_trailers(const std::string& trailers) {
  return "5\r\nhello\r\n6\r\n world\r\n0\r\n" + trailers + "\r\n";
}

// Answers every request but HEAD with a chunked "hello world" ended by
// `trailers`, in one write; HEAD gets the same head and no body.
TestBackend::Script answers_with_trailers(std::string trailers) {
  return [trailers](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      std::string out = make_response(
          200, "", {"Transfer-Encoding: chunked", "Trailer: grpc-status, grpc-message"});
      if (r.method != "HEAD") out += chunked_with_trailers(trailers);
      if (!c.send(out)) return;
    }
  };
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

// A chunked request carrying "hello world" and `trailers`.
std::string chunked_request(const std::string& method, const std::string& trailers) {
  return method + " /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
         chunked_with_trailers(trailers);
}

// Answers every request 200 "ok" (Content-Length).
TestBackend::Script answers_ok() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (!c.send(make_response(200, "ok"))) return;
    }
  };
}

std::string listener_config(const std::string& backend, const std::string& listener_extra) {
  return "workers: 1\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n" + listener_extra +
         "routes:\n  - name: app\n    backend: app\nbackends:\n  app:\n    servers: [" + backend +
         "]\n";
}

TEST(Trailers, ResponseTrailersReachAnHttp11ClientByteForByte) {
  TestBackend backend(answers_with_trailers(kGrpcTrailers));
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/rpc")));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->raw_trailers, kGrpcTrailers);
  // The body's framing ended where it should: the connection carries on.
  ASSERT_TRUE(client.send(get("/again")));
  auto again = client.read_response();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->raw_trailers, kGrpcTrailers);
  EXPECT_EQ(backend.accepted(), 1);
}

// RFC 9110 §6.5.1: framing, routing, hop-by-hop, authentication, response
// controls and the content's format have no place in trailers.
TEST(Trailers, ForbiddenResponseTrailerFieldsAreDroppedAndTheRestKeepTheirOrder) {
  TestBackend backend(answers_with_trailers(
      "grpc-status: 0\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n"
      "Connection: close\r\nKeep-Alive: timeout=1\r\nTrailer: x-checksum\r\n"
      "WWW-Authenticate: Basic\r\nContent-Type: text/evil\r\nContent-Encoding: gzip\r\n"
      "Content-Range: bytes 0-1/2\r\nSet-Cookie: a=b\r\nCache-Control: no-store\r\n"
      "x-checksum: abc\r\n"));
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/rpc")));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->raw_trailers, "grpc-status: 0\r\nx-checksum: abc\r\n");
  // "Connection: close" in the trailers closed nothing.
  ASSERT_TRUE(client.send(get("/again")));
  EXPECT_TRUE(client.read_response());
}

// RFC 9112 §7.1: an HTTP/1.0 client gets no chunked coding, so no place for
// trailers: the body ends with the close, untouched by them.
TEST(Trailers, Http10ClientGetsTheBodyWithoutTheTrailers) {
  TestBackend backend(answers_with_trailers(kGrpcTrailers));
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /rpc HTTP/1.0\r\nHost: t\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->header("transfer-encoding"));
  EXPECT_EQ(r->body, "hello world");
  EXPECT_TRUE(r->raw_trailers.empty());
}

TEST(Trailers, ChunkedRequestTrailersReachTheServer) {
  TestBackend backend(answers_ok());
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(chunked_request("POST", kGrpcTrailers)));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(backend.wait_for_requests(1));
  const ReceivedRequest got = backend.requests().front();
  EXPECT_TRUE(got.chunked);
  EXPECT_EQ(got.body, "hello world");
  EXPECT_EQ(got.raw_trailers, kGrpcTrailers);
}

// A server that merges trailers into the header section must not take a
// client's Host, framing or credentials, nor its claim to the fields the
// proxy states (X-Forwarded-For, the client certificate's subject).
TEST(Trailers, ForbiddenRequestTrailerFieldsAndTheProxysOwnAreDropped) {
  TestBackend backend(answers_ok());
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(chunked_request(
      "POST",
      "Host: evil\r\nContent-Length: 5\r\nAuthorization: Basic YTpi\r\nx-checksum: abc\r\n"
      "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"
      "X-Client-Cert-Subject: CN=admin\r\nX_Forwarded_For: 7.7.7.7\r\nTE: trailers\r\n"
      "Expect: 100-continue\r\ngrpc-status: 0\r\n")));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  ASSERT_TRUE(backend.wait_for_requests(1));
  EXPECT_EQ(backend.requests().front().raw_trailers, "x-checksum: abc\r\ngrpc-status: 0\r\n");
}

// The listener's bounds on a head (max_header_size, max_header_count)
// bound a request's trailer section too; over them the answer is a head's
// over them, 431, and the server gets nothing of the body's end.
TEST(Trailers, RequestTrailerSectionOverMaxHeaderSizeGets431) {
  TestBackend backend(answers_ok());
  SluiceInstance sluice(listener_config(backend.address(), "    max_header_size: 1KiB\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(chunked_request("POST", "x-pad: " + std::string(1100, 'p') + "\r\n")));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(client.wait_closed());
  for (const auto& seen : backend.requests())
    EXPECT_TRUE(seen.raw_trailers.empty()) << "a trailer section over the limits was forwarded";
}

TEST(Trailers, RequestWithMoreTrailerFieldsThanMaxHeaderCountGets431) {
  TestBackend backend(answers_ok());
  SluiceInstance sluice(listener_config(backend.address(), "    max_header_count: 4\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(chunked_request("POST", "a: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n")));
  auto fits = client.read_response();
  ASSERT_TRUE(fits) << sluice.process().output();
  EXPECT_EQ(fits->status, 200);
  ASSERT_TRUE(client.send(chunked_request("POST", "a: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n")));
  auto over = client.read_response();
  ASSERT_TRUE(over) << sluice.process().output();
  EXPECT_EQ(over->status, 431);
  EXPECT_TRUE(client.wait_closed());
  // A malformed trailer section is still a 400, not a size problem.
  RawConnection other(sluice.port("web"));
  ASSERT_TRUE(other.send(chunked_request("POST", "no colon here\r\n")));
  auto malformed = other.read_response();
  ASSERT_TRUE(malformed) << sluice.process().output();
  EXPECT_EQ(malformed->status, 400);
}

// A response's trailer section is bounded at 100 fields: over it, the
// response is malformed; caught before any byte left for the client, that
// is a 502.
TEST(Trailers, ResponseWithTooManyTrailerFieldsGets502) {
  std::string many;
  for (int i = 0; i < 101; ++i)
    many += "x-field-" + std::to_string(i) + ": v\r\n";
  TestBackend backend(answers_with_trailers(many));
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/rpc")));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 502);
  EXPECT_TRUE(sluice.process().wait_for_line("listener 'web' route 'app' backend 'app' server " +
                                             backend.address() +
                                             ": 502 Bad Gateway (too many trailer fields)"))
      << sluice.process().output();
}

// Reads from `fd` until `marker` has come; what came, or "" on EOF or
// after `timeout_ms`.
std::string read_until(int fd, const std::string& marker, int timeout_ms = 10000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string got;
  while (got.find(marker) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return "";
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// The 16 KiB bound on a response's trailer section, crossed after the head
// and data reached the client: the response is cut off, as one with a
// malformed chunk there is (a 502 can no longer be sent).
TEST(Trailers, ResponseTrailerSectionOverSixteenKibibytesAfterTheDataCutsTheResponseOff) {
  std::promise<void> data_arrived;
  std::shared_future<void> arrived = data_arrived.get_future().share();
  TestBackend backend([arrived](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    if (!c.send(make_response(200, "", {"Transfer-Encoding: chunked"}) + "5\r\nhello\r\n")) return;
    if (arrived.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return;
    c.send("0\r\nx-pad: " + std::string(40 * 1024, 'p') + "\r\n\r\n");
  });
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/rpc")));
  const std::string got = read_until(client.fd(), "hello\r\n");
  ASSERT_NE(got, "") << sluice.process().output();
  EXPECT_EQ(got.substr(0, 13), "HTTP/1.1 200 ");
  data_arrived.set_value();
  EXPECT_TRUE(client.wait_closed());
  EXPECT_TRUE(sluice.process().wait_for_line("response cut off (trailer section too large)"))
      << sluice.process().output();
}

// RFC 9112 §6.3: HEAD and 204 responses end with their head, whatever the
// fields announce; the connection stays usable for a response with
// trailers after them.
TEST(Trailers, HeadAnd204AreUnaffectedAndTheConnectionCarriesOn) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      std::string out;
      if (r.target == "/none") {
        out = "HTTP/1.1 204 No Content\r\nTrailer: grpc-status\r\n\r\n";
      } else {
        out = make_response(200, "", {"Transfer-Encoding: chunked", "Trailer: grpc-status"});
        if (r.method != "HEAD") out += chunked_with_trailers(kGrpcTrailers);
      }
      if (!c.send(out)) return;
    }
  });
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("HEAD /rpc HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = client.read_response(true);
  ASSERT_TRUE(head) << sluice.process().output();
  EXPECT_EQ(head->status, 200);
  ASSERT_TRUE(client.send(get("/none")));
  auto none = client.read_response();
  ASSERT_TRUE(none) << sluice.process().output();
  EXPECT_EQ(none->status, 204);
  ASSERT_TRUE(client.send(get("/rpc")));
  auto full = client.read_response();
  ASSERT_TRUE(full) << sluice.process().output();
  EXPECT_EQ(full->body, "hello world");
  EXPECT_EQ(full->raw_trailers, kGrpcTrailers);
  EXPECT_TRUE(client.leftover().empty());
  EXPECT_EQ(backend.accepted(), 1);
}

// Design problem 5: an idempotent request whose body is in hand is resent
// when a pooled connection closes under it; its trailer fields are part
// of it and are held with the body (exchange.cpp, keep_request_trailers).
TEST(Trailers, PutResentAfterAPooledConnectionClosedKeepsItsTrailers) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    int served = 0;
    while (c.read_request(r)) {
      if (c.index() == 1 && served == 1) return;  // read, then close unanswered
      if (!c.send(make_response(200, "ok"))) return;
      ++served;
    }
  });
  SluiceInstance sluice(one_backend_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/warm")));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(client.send(chunked_request("PUT", kGrpcTrailers)));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(backend.accepted(), 2);
  const std::vector<ReceivedRequest> got = backend.requests();
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].method, "PUT");
    EXPECT_EQ(got[i].body, "hello world");
    EXPECT_EQ(got[i].raw_trailers, kGrpcTrailers) << "try " << i;
  }
}

}  // namespace
}  // namespace sluice::test
