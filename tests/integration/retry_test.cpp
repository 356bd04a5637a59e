// Pooled connections that fail safely: what is resent and what is not when
// a server closes a pooled connection under a request, connect failures
// moving to the next server, the server's Keep-Alive hint, pool.reuse.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/h2_frames.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::string config(const std::string& servers, const std::string& backend_extra = "") {
  return one_backend_config(servers, backend_extra);
}

// The first backend connection answers one request, then reads the next
// and closes without answering, as a server closing an idle connection at
// the moment a request arrives does. Every later connection answers all.
TestBackend::Script drops_second_request_on_first_connection() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    int served = 0;
    while (c.read_request(r)) {
      if (c.index() == 1 && served == 1) return;  // read, then close unanswered
      c.send(make_response(200, r.method + " " + r.target + " " + std::to_string(r.body.size())));
      ++served;
    }
  };
}

int count_requests(const TestBackend& b, const std::string& method) {
  int n = 0;
  for (const auto& r : b.requests())
    n += r.method == method ? 1 : 0;
  return n;
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

TEST(Retries, GetOnAPooledConnectionClosedUnderItIsResentAndSucceeds) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/warm")));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(client.send(get("/again")));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /again 0");
  EXPECT_EQ(backend.accepted(), 2);
  EXPECT_TRUE(sluice.process().wait_for_line(
      "listener 'web' route 'app' backend 'app' server " + backend.address() +
      ": the server closed the connection without answering; retrying GET (1 retry left)"))
      << sluice.process().output();
}

// The same over HTTP/2: a GET ends its stream with its HEADERS, so its
// (empty) body is in hand from the start and it may be sent again. (It was
// not: the stream counted its body as unread, and the client got a 502.)
TEST(Retries, AnHttp2ClientsGetOnAPooledConnectionClosedUnderItIsResentAndSucceeds) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  h2::H2Connection client(sluice.port("web"));
  ASSERT_TRUE(client.handshake());
  EXPECT_EQ(client.request(h2::request_fields("GET", "t", "/warm")).status(), 200);
  const h2::StreamResult r = client.request(h2::request_fields("GET", "t", "/again"));
  EXPECT_EQ(r.status(), 200) << sluice.process().output();
  EXPECT_EQ(r.body, "GET /again 0");
  EXPECT_EQ(backend.accepted(), 2);
}

TEST(Retries, PostOnAClientConnectionsFirstRequestGets502AndIsSentOnce) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(backend.address(), "    pool: {reuse: always}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  {
    RawConnection warm(sluice.port("web"));
    ASSERT_TRUE(warm.send(get("/warm")));
    ASSERT_TRUE(warm.read_response());
  }
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("POST /pay HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nmoney"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(count_requests(backend, "POST"), 1);
}

TEST(Retries, PostAsALaterRequestGetsTheCloseTheServerGaveAndIsSentOnce) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(backend.address(), "    pool: {reuse: always}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/warm")));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(client.send("POST /pay HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nmoney"));
  auto unexpected = client.read_response(false, 5000);
  EXPECT_FALSE(unexpected) << unexpected->raw_head << unexpected->body << sluice.process().output();
  EXPECT_TRUE(client.wait_closed(5000));
  EXPECT_EQ(count_requests(backend, "POST"), 1);
  EXPECT_TRUE(sluice.process().wait_for_line(
      "listener 'web' route 'app' backend 'app' server " + backend.address() +
      ": the server closed the connection without answering a POST it cannot be sent again; "
      "closing the client connection"))
      << sluice.process().output();
}

TEST(Retries, PutWithAKilobyteBodyIsResentWithTheSameBody) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::string body(1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + i % 26);
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/warm")));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(client.send("PUT /doc HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" + body));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PUT /doc 1024");
  int puts = 0;
  for (const auto& seen : backend.requests()) {
    if (seen.method != "PUT") continue;
    ++puts;
    EXPECT_EQ(seen.body, body);
  }
  EXPECT_EQ(puts, 2);  // the dropped one and the resent one
}

// A chunked body is decoded, held, and sent again re-chunked: the server
// gets the same bytes, chunked, on both tries.
TEST(Retries, PutWithAChunkedBodyIsResentChunkedWithTheSameBody) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::string body(700, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + i % 26);
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/warm")));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(client.send("PUT /doc HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          chunk_body(body, 100)));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PUT /doc 700");
  int puts = 0;
  for (const auto& seen : backend.requests()) {
    if (seen.method != "PUT") continue;
    ++puts;
    EXPECT_TRUE(seen.chunked);
    EXPECT_EQ(seen.body, body);
  }
  EXPECT_EQ(puts, 2);  // the dropped one and the resent one
}

TEST(Retries, PostWithAnIdempotencyKeyIsResentWhenTheBackendOptsIn) {
  TestBackend backend(drops_second_request_on_first_connection());
  SluiceInstance sluice(config(
      backend.address(), "    pool: {reuse: always}\n    retries: {idempotency_key: true}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/warm")));
  ASSERT_TRUE(client.read_response());
  ASSERT_TRUE(
      client.send("POST /pay HTTP/1.1\r\nHost: t\r\nIdempotency-Key: 8e03978e\r\n"
                  "Content-Length: 5\r\n\r\nmoney"));
  auto r = client.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /pay 5");
  EXPECT_EQ(count_requests(backend, "POST"), 2);
}

TEST(Retries, ConnectFailureMovesToTheNextServer) {
  TestBackend backend(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(config(dead.address() + ", " + backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 6; ++i) {
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(client.send("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"));
    auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  EXPECT_EQ(count_requests(backend, "POST"), 6);
  EXPECT_TRUE(sluice.process().wait_for_line("listener 'web' route 'app' backend 'app' server " +
                                             dead.address() +
                                             ": connection refused by the server; retrying POST"))
      << sluice.process().output();
}

TEST(Retries, ReuseNeverOpensAConnectionPerRequest) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend.address(), "    pool: {reuse: never}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.send(get("/n")));
    ASSERT_TRUE(client.read_response());
  }
  EXPECT_EQ(backend.accepted(), 5);
  EXPECT_TRUE(backend.wait_for_closed_connections(5));
}

TEST(Retries, ServerKeepAliveTimeoutRetiresPooledConnectionsBeforeTheServerWouldClose) {
  // The server announces "Keep-Alive: timeout=1": the pool must not use a
  // connection idle for longer than three quarters of that (750 ms). This
  // server is lenient and closes only after 5 s, so a connection the pool
  // failed to retire would be reused (and seen), not cut under a request.
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r, 5000)) {
      c.send(make_response(200, "ok " + r.target, {"Keep-Alive: timeout=1"}));
    }
  });
  SluiceInstance sluice(config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  auto expect_ok = [&](const std::string& path) {
    ASSERT_TRUE(client.send(get(path)));
    auto r = client.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->body, "ok " + path);
  };
  // Back to back, long before the retirement point: one connection.
  expect_ok("/a");
  expect_ok("/b");
  EXPECT_EQ(backend.accepted(), 1);
  // Idle past the retirement point, well short of the server's own
  // timeout (the pause is the scenario; running late only makes it idler,
  // never less): a new connection, and sluice closes the old one.
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  expect_ok("/c");
  EXPECT_EQ(backend.accepted(), 2);
  EXPECT_TRUE(backend.wait_for_closed_connections(1, 2000)) << "the retired one is closed";
  EXPECT_EQ(backend.requests().size(), 3u);
  EXPECT_EQ(sluice.process().stop(SIGTERM), 0);
  EXPECT_EQ(sluice.process().output().find("retrying"), std::string::npos)
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
