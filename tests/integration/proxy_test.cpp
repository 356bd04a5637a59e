// The HTTP/1.1 reverse proxy end to end: the real sluice binary between real
// clients (raw sockets, curl, ab) and scripted backends that misbehave on
// purpose, all over loopback.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <string>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

bool contains(const std::string& s, const std::string& n) {
  return s.find(n) != std::string::npos;
}

// One listener 'web', one route to backend 'app' with the given server.
std::string proxy_config(const std::string& server, const std::string& backend_extra = "",
                         int workers = 1, const std::string& top_extra = "") {
  return "workers: " + std::to_string(workers) + R"(
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: app
    backend: app
backends:
  app:
    servers:
      - address: )" +
         server + "\n" + backend_extra + top_extra;
}

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

// Reads exactly n raw bytes from a connected socket.
std::string read_exactly(int fd, std::size_t n, int timeout_ms = 5000) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

// ---------------------------------------------------------------- HEAD

TEST(ProxyHead, ContentLength612ReturnsAtOnceAndBothConnectionsAreReused) {
  const std::string body(612, 'x');
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.method == "HEAD") {
        c.send("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 612\r\n\r\n");
      } else {
        c.send(make_response(200, body, {"Content-Type: text/html"}));
      }
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("HEAD / HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto head = client.read_response(true, 3000);
  ASSERT_TRUE(head) << sluice.process().output();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length").value_or(""), "612");
  EXPECT_TRUE(head->body.empty());
  EXPECT_TRUE(client.leftover().empty());
  ASSERT_TRUE(client.send(get("/")));
  auto full = client.read_response(false, 3000);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->body, body);
  EXPECT_EQ(backend.accepted(), 1);
}

TEST(ProxyHead, Unauthorized401WithBodyLengthLikeARegistryReturnsAtOnce) {
  const std::string json = R"({"errors":"denied"})";
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const std::string head =
          "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
          "Www-Authenticate: Bearer realm=\"test\"\r\nContent-Length: " +
          std::to_string(json.size()) + "\r\n\r\n";
      c.send(r.method == "HEAD" ? head : head + json);
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send("HEAD /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n"));
    auto head = client.read_response(true, 3000);
    ASSERT_TRUE(head) << "HEAD " << i;
    EXPECT_EQ(head->status, 401);
    EXPECT_EQ(head->header("content-length").value_or(""), std::to_string(json.size()));
    EXPECT_TRUE(client.leftover().empty());
    ASSERT_TRUE(client.send(get("/v2/")));
    auto full = client.read_response(false, 3000);
    ASSERT_TRUE(full) << "GET " << i;
    EXPECT_EQ(full->status, 401);
    EXPECT_EQ(full->body, json);
  }
  EXPECT_EQ(backend.accepted(), 1);
}

TEST(ProxyHead, BodyBytesAfterAHeadResponseRetireTheBackendConnection) {
  std::atomic<bool> first_closed_by_proxy{false};
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.method == "HEAD") {
        // Wrong on purpose: a HEAD response with the body after it.
        c.send("HTTP/1.1 200 OK\r\nContent-Length: 612\r\n\r\n" + std::string(612, 'b'));
        if (c.wait_closed(5000)) first_closed_by_proxy = true;
        return;
      }
      c.send(make_response(200, "fine"));
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("HEAD / HTTP/1.1\r\nHost: test\r\n\r\n"));
  auto head = client.read_response(true, 3000);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  ASSERT_TRUE(client.send(get("/")));
  auto next = client.read_response(false, 3000);
  ASSERT_TRUE(next) << "the stray body must not be taken for the next response";
  EXPECT_EQ(next->body, "fine");
  EXPECT_TRUE(client.leftover().empty());
  EXPECT_TRUE(backend.wait_for_closed_connections(1));
  EXPECT_TRUE(first_closed_by_proxy);
  EXPECT_EQ(backend.accepted(), 2);
}

// ------------------------------------------------------ keep-alive, reuse

TEST(ProxyKeepAlive, AbKeepAliveThousandRequestsUseAtMostTenBackendConnections) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address(), "", 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = run_command({"ab", "-k", "-n", "1000", "-c", "10", "-s", "10",
                        "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(Complete requests:\s+1000\b)")))
      << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(Failed requests:\s+0\b)"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(Keep-Alive requests:\s+1000\b)")))
      << r.output;
  EXPECT_LE(backend.accepted(), 10);
  EXPECT_EQ(backend.requests().size(), 1000u);
}

TEST(ProxyKeepAlive, Http11ResponseHasNoConnectionFieldAddedAnd10KeepAliveIsEchoed) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  {
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(client.send(get("/")));
    auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->count("connection"), 0u) << r->raw_head;
    EXPECT_EQ(r->count("keep-alive"), 0u) << r->raw_head;
  }
  RawConnection old(sluice.port("web"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(old.send("GET /ten HTTP/1.0\r\nHost: test\r\nConnection: keep-alive\r\n\r\n"));
    auto r = old.read_response();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->header("connection").value_or(""), "keep-alive") << r->raw_head;
  }
  ASSERT_TRUE(old.send("GET /ten HTTP/1.0\r\nHost: test\r\n\r\n"));
  auto last = old.read_response();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->header("connection").value_or(""), "close");
  EXPECT_TRUE(old.wait_closed(3000));
  EXPECT_EQ(backend.accepted(), 1);
}

TEST(ProxyKeepAlive, ListenerOptionAnnouncesKeepAliveOnProxiedResponses) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    keep_alive_header: true
    timeouts: {idle: 30s}
routes:
  - backend: app
backends:
  app:
    servers: [{address: )" +
                        backend.address() + "}]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection").value_or(""), "keep-alive");
  EXPECT_EQ(r->header("keep-alive").value_or(""), "timeout=30");
}

TEST(ProxyKeepAlive, IdleConnectionMovesToTheWorkerThatNeedsIt) {
  // Sequential requests, each on a new client connection, land on either
  // of two workers; only one backend connection is ever needed, because a
  // worker without one borrows the other worker's idle connection.
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address(), "", 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 40; ++i) {
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(client.send(get("/n" + std::to_string(i), "Connection: close\r\n")));
    auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(backend.accepted(), 1);
  EXPECT_EQ(sluice.process().stop(SIGTERM), 0);
  EXPECT_TRUE(std::regex_search(sluice.process().output(), std::regex(R"(\b[1-9][0-9]* borrowed)")))
      << sluice.process().output();
}

TEST(ProxyKeepAlive, PoolKeepsAtMostMaxIdleAndClosesThemAfterIdleTimeout) {
  // Five requests at once need five connections; afterwards the pool keeps
  // exactly two (max_idle_per_server) and closes three. Two requests at
  // once then both find a kept connection (none opened, so two were kept,
  // not fewer, and they had not expired with the others), and the two
  // close once they have been idle for idle_timeout.
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r, 20000)) {
      {
        // Each round arrives all at once: no answer before the whole round
        // is in, so each request of a round holds its own connection.
        std::unique_lock lock(m);
        ++arrived;
        cv.notify_all();
        const int round_end = arrived <= 5 ? 5 : 7;
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived >= round_end; });
      }
      if (!c.send(make_response(200, "ok"))) return;
    }
  });
  constexpr auto kIdleTimeout = std::chrono::milliseconds(2000);
  SluiceInstance sluice(
      proxy_config(backend.address(), "    pool: {max_idle_per_server: 2, idle_timeout: 2s}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto round = [&](int n) {
    std::vector<std::unique_ptr<RawConnection>> clients;
    for (int i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
      ASSERT_TRUE(clients.back()->send(get("/")));
    }
    for (auto& c : clients) {
      auto r = c->read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
    }
  };
  round(5);
  ASSERT_EQ(backend.accepted(), 5);
  ASSERT_TRUE(backend.wait_for_closed_connections(3, 5000)) << "beyond two are closed";
  const auto second_round = std::chrono::steady_clock::now();
  round(2);
  EXPECT_EQ(backend.accepted(), 5) << "both requests found a kept connection";
  EXPECT_EQ(backend.open_connections(), 2);
  EXPECT_EQ(backend.requests().size(), 7u);
  ASSERT_TRUE(backend.wait_for_closed_connections(5, 10000));
  const auto idle_for = std::chrono::steady_clock::now() - second_round;
  EXPECT_GE(idle_for, kIdleTimeout - kTimerEarliness) << "closed before their idle timeout";
  // The pool sweeps expired connections every 250 ms; 2 s more is slack.
  EXPECT_LT(idle_for, kIdleTimeout + std::chrono::seconds(2));
  EXPECT_EQ(backend.accepted(), 5);
}

TEST(ProxyKeepAlive, ServerClosingIdlePooledConnectionsNeverFailsAGet) {
  // Each backend connection answers one request and then closes without a
  // word, the way a server with a short keep-alive timeout does. Whether
  // the close arrives before or after the next request picks the pooled
  // connection, the GET must succeed.
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.send(make_response(200, "one " + r.target));
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(client.send(get("/r" + std::to_string(i))));
    auto r = client.read_response();
    ASSERT_TRUE(r) << "request " << i << "\n" << sluice.process().output();
    ASSERT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->body, "one /r" + std::to_string(i));
  }
  EXPECT_FALSE(contains(sluice.process().output(), " 502 "));
}

TEST(ProxyKeepAlive, Http10AndConnectionCloseResponsesRetireTheBackendConnection) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/old") {
        c.send("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nold");
      } else if (r.target == "/close") {
        c.send(make_response(200, "bye", {"Connection: close"}));
      } else {
        c.send(make_response(200, "kept"));
      }
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  for (const char* path : {"/old", "/close", "/kept", "/kept"}) {
    ASSERT_TRUE(client.send(get(path)));
    auto r = client.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->count("connection"), 0u) << "the client's connection is ours to keep";
  }
  // /old and /close each used up a connection; the two /kept share one.
  EXPECT_EQ(backend.accepted(), 3);
  EXPECT_TRUE(backend.wait_for_closed_connections(2));
}

TEST(ProxyKeepAlive, NewClientConnectionsUnderLoadOnTwoWorkersReuseBackendConnections) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address(), "", 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = run_command({"ab", "-n", "3000", "-c", "10", "-s", "10",
                        "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(Failed requests:\s+0\b)"))) << r.output;
  ASSERT_EQ(backend.requests().size(), 3000u);
  // Reuse ratio: requests on reused backend connections / all, above 99%.
  const double reuse = 1.0 - static_cast<double>(backend.accepted()) / 3000.0;
  EXPECT_GT(reuse, 0.99) << backend.accepted() << " backend connections";
}

TEST(ProxyKeepAlive, TcpKeepaliveTurnsOnKeepaliveProbesOnBackendSockets) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address(), "    tcp_keepalive: true\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/")));
  ASSERT_TRUE(client.read_response());
  // ss -o shows a keepalive timer on a socket with SO_KEEPALIVE.
  auto r = run_command(
      {"ss", "-tnoH", "state", "established", "dport", "=", ":" + std::to_string(backend.port())});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "timer:(keepalive")) << r.output;
}

// ------------------------------------------------------------ methods

struct MethodCase {
  std::string method;
  std::string request_body;  // "", "length", "chunked"
  bool chunked_response;
};

TEST(ProxyMethods, EveryMethodWithAndWithoutABodyInBothFramingsBothWays) {
  TestBackend by_length(TestBackend::echo(false));
  TestBackend by_chunks(TestBackend::echo(true));
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - match: {path: /chunked}
    backend: chunks
  - match: {path: /}
    backend: length
backends:
  length:
    servers: [{address: )" +
                        by_length.address() + R"(}]
  chunks:
    servers: [{address: )" +
                        by_chunks.address() + "}]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::string payload;
  for (int i = 0; i < 3000; ++i)
    payload += static_cast<char>('a' + i % 26);
  RawConnection client(sluice.port("web"));
  int sent = 0;
  for (const std::string method : {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    for (const std::string body_mode : {"", "length", "chunked"}) {
      for (const bool chunked_response : {false, true}) {
        const std::string path = chunked_response ? "/chunked/x" : "/x";
        std::string req = method + " " + path + " HTTP/1.1\r\nHost: test\r\n";
        if (body_mode == "length") {
          req += "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;
        } else if (body_mode == "chunked") {
          req += "Transfer-Encoding: chunked\r\n\r\n" + chunk_body(payload, 1000);
        } else {
          req += "\r\n";
        }
        const std::string what = method + " body=" + body_mode +
                                 (chunked_response ? " chunked response" : " length response");
        ASSERT_TRUE(client.send(req)) << what;
        auto r = client.read_response(method == "HEAD");
        ASSERT_TRUE(r) << what << "\n" << sluice.process().output();
        ++sent;
        EXPECT_EQ(r->status, 200) << what;
        EXPECT_EQ(r->header("x-method").value_or(""), method) << what;
        const std::size_t expected = body_mode.empty() ? 0 : payload.size();
        EXPECT_EQ(r->header("x-body-length").value_or(""), std::to_string(expected)) << what;
        EXPECT_EQ(r->header("x-chunked").value_or(""), body_mode == "chunked" ? "yes" : "no")
            << what;
        if (method == "HEAD") {
          EXPECT_TRUE(r->body.empty()) << what;
        } else {
          EXPECT_EQ(r->body, body_mode.empty() ? "" : payload) << what;
          EXPECT_EQ(r->count("transfer-encoding"), chunked_response ? 1u : 0u) << what;
        }
      }
    }
  }
  EXPECT_EQ(static_cast<int>(by_length.requests().size() + by_chunks.requests().size()), sent);
  EXPECT_EQ(by_length.accepted(), 1);
  EXPECT_EQ(by_chunks.accepted(), 1);
}

TEST(ProxyMethods, LargeBodiesStreamBothWays) {
  TestBackend backend(TestBackend::echo(true));
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::string payload(4 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>((i * 7919) % 251);
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                          std::to_string(payload.size()) + "\r\n\r\n" + payload));
  auto r = client.read_response(false, 20000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), payload.size());
  EXPECT_TRUE(r->body == payload);
}

// ------------------------------------------------------------ framing

TEST(ProxyFraming, CloseDelimitedResponseReachesAnHttp11ClientChunkedOnALiveConnection) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    c.send("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the server closes " +
           r.target);
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send(get("/c" + std::to_string(i))));
    auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->header("transfer-encoding").value_or(""), "chunked") << r->raw_head;
    EXPECT_EQ(r->count("connection"), 0u) << r->raw_head;
    EXPECT_EQ(r->body, "until the server closes /c" + std::to_string(i));
  }
  EXPECT_EQ(backend.accepted(), 2);
}

TEST(ProxyFraming, CloseDelimitedResponseToAnHttp10ClientEndsWithTheClose) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    c.send("HTTP/1.0 200 OK\r\n\r\nraw body");
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "raw body");
  EXPECT_EQ(r->count("transfer-encoding"), 0u);
  EXPECT_EQ(r->header("connection").value_or(""), "close");
}

TEST(ProxyFraming, NoContentAndNotModifiedEndAtTheirHeadWhateverTheirFieldsSay) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/204") c.send("HTTP/1.1 204 No Content\r\nX-Kind: none\r\n\r\n");
      if (r.target == "/304") {
        c.send("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n");
      }
      if (r.target == "/ok") c.send(make_response(200, "after"));
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send(get("/204") + get("/304") + get("/ok")));
    auto a = client.read_response(false, 3000);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 204);
    EXPECT_EQ(a->count("content-length"), 0u);
    auto b = client.read_response(true, 3000);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 304);
    EXPECT_EQ(b->header("content-length").value_or(""), "1234");
    auto c = client.read_response(false, 3000);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->body, "after");
  }
  EXPECT_EQ(backend.accepted(), 1);
}

TEST(ProxyFraming, InterimResponsesAreRelayed) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      c.send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
      c.send(make_response(200, "final"));
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/")));
  auto hint = client.read_response(false, 3000, true);
  ASSERT_TRUE(hint);
  EXPECT_EQ(hint->status, 103);
  EXPECT_EQ(hint->header("link").value_or(""), "</style.css>; rel=preload");
  auto final_response = client.read_response(false, 3000, true);
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->status, 200);
  EXPECT_EQ(final_response->body, "final");
}

TEST(ProxyFraming, ExpectContinueGetsTheInterimResponseAndTheBodyIsForwarded) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(
      "POST /upload HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto go_on = client.read_response(false, 3000, true);
  ASSERT_TRUE(go_on);
  EXPECT_EQ(go_on->status, 100);
  ASSERT_TRUE(client.send("hello"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
  EXPECT_FALSE(backend.requests().at(0).has("expect"));
}

TEST(ProxyFraming, WebSocketEchoWorksThroughTheTunnel) {
  TestBackend backend(TestBackend::websocket_echo());
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(
      "GET /chat HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  auto r = client.read_response(false, 3000, true);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 101);
  EXPECT_EQ(r->header("upgrade").value_or(""), "websocket");
  const std::string frame = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";  // masked "Hello"
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(frame));
    EXPECT_EQ(read_exactly(client.fd(), frame.size()), frame) << i;
  }
  const auto seen = backend.requests().at(0);
  EXPECT_EQ(seen.header("connection"), "upgrade");
  EXPECT_EQ(seen.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  client.shutdown_write();
  EXPECT_TRUE(client.wait_closed(5000));
}

// ------------------------------------------------------- header rewriting

TEST(ProxyHeaders, HopByHopFieldsStayOnTheirHopAndForwardedFieldsAreAdded) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      c.send(make_response(200, "ok",
                           {"Connection: X-Internal", "X-Internal: secret", "Keep-Alive: timeout=5",
                            "X-Public: yes"}));
    }
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(
      "GET /h HTTP/1.1\r\nHost: Example.test:8080\r\nConnection: keep-alive, X-Secret\r\n"
      "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
      "X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nUser-Agent: test\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->count("x-internal"), 0u);
  EXPECT_EQ(r->count("keep-alive"), 0u);
  EXPECT_EQ(r->count("connection"), 0u);
  EXPECT_EQ(r->header("x-public").value_or(""), "yes");
  const auto seen = backend.requests().at(0);
  EXPECT_EQ(seen.version, "HTTP/1.1");
  EXPECT_EQ(seen.header("host"), "Example.test:8080");
  for (const char* gone : {"connection", "x-secret", "keep-alive", "te", "proxy-connection"}) {
    EXPECT_FALSE(seen.has(gone)) << gone << "\n" << seen.raw_head;
  }
  EXPECT_EQ(seen.header("user-agent"), "test");
  EXPECT_EQ(seen.header("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
  EXPECT_EQ(seen.header("x-forwarded-proto"), "http");
  EXPECT_EQ(seen.header("x-forwarded-host"), "Example.test:8080");
  EXPECT_EQ(seen.headers.count("x-forwarded-proto"), 1u);
}

TEST(ProxyHeaders, ClientsInExceptNetworksGetNoForwardedFieldsAdded) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(
      proxy_config(backend.address(), "", 1, "forwarded:\n  except: [127.0.0.0/8]\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/", "X-Forwarded-For: 203.0.113.9\r\n")));
  ASSERT_TRUE(client.read_response());
  const auto seen = backend.requests().at(0);
  EXPECT_EQ(seen.header("x-forwarded-for"), "203.0.113.9");
  EXPECT_FALSE(seen.has("x-forwarded-proto"));
  EXPECT_FALSE(seen.has("x-forwarded-host"));
}

TEST(ProxyHeaders, Http10ClientWithoutHostStillSendsAValidHttp11Request) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto seen = backend.requests().at(0);
  EXPECT_EQ(seen.version, "HTTP/1.1");
  EXPECT_EQ(seen.header("host"), backend.address());
}

// ------------------------------------------------------------ failures

TEST(ProxyFailures, RefusedConnectionGets502NamingTheCauseAndIsLogged) {
  const RefusingPort dead;
  const std::string server = dead.address();
  SluiceInstance sluice(proxy_config(server));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_TRUE(contains(r->body, "refused")) << r->body;
  EXPECT_TRUE(sluice.process().wait_for_line("listener 'web' route 'app' backend 'app' server " +
                                                 server +
                                                 ": 502 Bad Gateway (connection refused by the "
                                                 "server)",
                                             std::chrono::seconds(5)))
      << sluice.process().output();
}

// The timeouts below are 300 ms with retries off, so one timeout is all
// that passes: at least 300 ms, and far less than any default (3 s to
// connect, 30 s for a response) or a retry would take.
constexpr auto kShortTimeout = std::chrono::milliseconds(300);
constexpr auto kTimeoutSlack = std::chrono::milliseconds(1700);

TEST(ProxyFailures, ServerThatNeverAnswersGets504AfterTheResponseTimeout) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.wait_closed(20000);
  });
  SluiceInstance sluice(proxy_config(
      backend.address(), "    timeouts: {response: 300ms}\n    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.send(get("/")));
  auto r = client.read_response(false, 5000);
  const auto waited = std::chrono::steady_clock::now() - sent;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_TRUE(contains(r->body, "did not answer in time")) << r->body;
  EXPECT_GE(waited, kShortTimeout - kTimerEarliness);
  EXPECT_LT(waited, kShortTimeout + kTimeoutSlack);
  EXPECT_EQ(backend.requests().size(), 1u);
  EXPECT_TRUE(sluice.process().wait_for_line(
      "listener 'web' route 'app' backend 'app' server " + backend.address() +
          ": 504 Gateway Timeout (the server did not answer in time)",
      std::chrono::seconds(5)))
      << sluice.process().output();
}

TEST(ProxyFailures, ConnectTimeoutGets504) {
  // A listener whose accept queue is full drops new SYNs: connects hang.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 0), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::uint16_t port = ntohs(a.sin_port);
  // Backlog 0 holds one connection; non-blocking connects, so none of
  // them waits here.
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(f);
  }
  const std::string server = "127.0.0.1:" + std::to_string(port);
  SluiceInstance sluice(
      proxy_config(server, "    timeouts: {connect: 300ms}\n    retries: {attempts: 0}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(client.send(get("/")));
  auto r = client.read_response(false, 5000);
  const auto waited = std::chrono::steady_clock::now() - sent;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_TRUE(contains(r->body, "timed out")) << r->body;
  EXPECT_GE(waited, kShortTimeout - kTimerEarliness);
  EXPECT_LT(waited, kShortTimeout + kTimeoutSlack);
  EXPECT_TRUE(sluice.process().wait_for_line(
      "listener 'web' route 'app' backend 'app' server " + server +
          ": 504 Gateway Timeout (connecting to the server timed out)",
      std::chrono::seconds(5)))
      << sluice.process().output();
  for (int f : fillers)
    ::close(f);
  ::close(fd);
}

TEST(ProxyFailures, BackendDyingMidResponseAbortsTheClientConnectionAndIsLogged) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (!c.read_request(r)) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x'));
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = run_command({"curl", "-sS", "-m", "5", "-o", "/dev/null",
                        "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/"});
  EXPECT_EQ(r.exit_code, 18) << r.output;  // curl: transfer closed with data remaining
  EXPECT_TRUE(sluice.process().wait_for_line("listener 'web' route 'app' backend 'app' server " +
                                             backend.address() + ": response cut off ("))
      << sluice.process().output();
}

TEST(ProxyFailures, InvalidResponseGets502) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r))
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello");
  });
  SluiceInstance sluice(proxy_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_TRUE(client.send(get("/")));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
}

}  // namespace
}  // namespace sluice::test
