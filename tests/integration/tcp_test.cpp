// TCP (layer 4) listeners and the PROXY protocol, end to end: bytes pass
// untouched (a backend's own Connection header reaches the client), large
// transfers keep every byte, half-close is passed on, real servers (nginx,
// Redis, HAProxy) work through it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

std::string tcp_config(const std::string& servers, const std::string& server_extra = "",
                       const std::string& listener_extra = "") {
  return R"(workers: 2
listeners:
  - name: tcp
    listen: 127.0.0.1:0
    protocol: tcp
    backend: app
)" + listener_extra +
         R"(backends:
  app:
    servers: [)" +
         servers + server_extra + "]\n";
}

// Tries `attempt` until it succeeds, for a server just started (nginx,
// HAProxy) that gives no ready signal of its own: bounded, 5 s at most.
template <typename Attempt>
bool until_up(Attempt attempt) {
  for (int i = 0; i < 200; ++i) {
    if (attempt()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // start-up poll
  }
  return false;
}

// A deterministic stream of bytes: chunk i of a transfer.
void fill(std::string& chunk, std::uint64_t& state) {
  for (auto& c : chunk) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    c = static_cast<char>(state >> 56);
  }
}

// SHA-256 through OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  void update(const char* p, std::size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string hex_digest();

 private:
  EVP_MD_CTX* ctx_;
};

std::string hex(const unsigned char* d, std::size_t n) {
  static const char* k = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += k[d[i] >> 4];
    out += k[d[i] & 15];
  }
  return out;
}

std::string Sha256::hex_digest() {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, d, &n);
  return hex(d, n);
}

// Sends `total` bytes of the seeded stream on fd; returns their SHA-256.
std::string send_stream(int fd, std::uint64_t total, std::uint64_t seed) {
  Sha256 sha;
  std::string chunk(1 << 16, '\0');
  for (std::uint64_t sent = 0; sent < total; sent += chunk.size()) {
    fill(chunk, seed);
    sha.update(chunk.data(), chunk.size());
    std::size_t off = 0;
    while (off < chunk.size()) {
      const ssize_t n = ::send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return "send failed";
      off += static_cast<std::size_t>(n);
    }
  }
  return sha.hex_digest();
}

// Reads until EOF; returns the SHA-256 and the byte count.
std::string receive_stream(int fd, std::uint64_t& bytes) {
  Sha256 sha;
  std::string buf(1 << 16, '\0');
  bytes = 0;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0) return "timed out";
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) return "reset";
    if (n == 0) break;
    sha.update(buf.data(), static_cast<std::size_t>(n));
    bytes += static_cast<std::uint64_t>(n);
  }
  return sha.hex_digest();
}

TEST(TcpMode, QuarterGibibyteEachWayArrivesIntactAndHalfCloseIsPassedOn) {
  constexpr std::uint64_t kTotal = 256ull << 20;
  std::string backend_got, backend_sent;
  std::uint64_t backend_bytes = 0;
  TestBackend backend([&](BackendConnection& c) {
    // Everything the client sends, until its FIN arrives through sluice...
    backend_got = receive_stream(c.fd_for_tests(), backend_bytes);
    // ...then the whole answer, on the half-closed connection.
    backend_sent = send_stream(c.fd_for_tests(), kTotal, 2);
    c.shutdown_write();
    c.wait_closed(20000);
  });
  SluiceInstance sluice(tcp_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection client(sluice.port("tcp"));
  const std::string client_sent = send_stream(client.fd(), kTotal, 1);
  client.shutdown_write();  // sends, then shuts its write side
  std::uint64_t client_bytes = 0;
  const std::string client_got = receive_stream(client.fd(), client_bytes);
  EXPECT_EQ(client_bytes, kTotal);
  EXPECT_EQ(client_got, backend_sent);
  EXPECT_TRUE(backend.wait_for_closed_connections(1, 20000));
  EXPECT_EQ(backend_bytes, kTotal);
  EXPECT_EQ(backend_got, client_sent);
}

TEST(TcpMode, ConnectFailureTriesTheNextServer) {
  // The dead server comes first in the list, and smooth round robin starts
  // with the first: each worker's first client is refused there and must
  // be carried to the next server, which the log line shows.
  TestBackend backend(TestBackend::echo());
  const RefusingPort dead;
  SluiceInstance sluice(tcp_config(dead.address() + ", " + backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (int i = 0; i < 4; ++i) {
    RawConnection client(sluice.port("tcp"));
    ASSERT_TRUE(client.send("GET /t HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(backend.accepted(), 4);
  EXPECT_TRUE(sluice.process().wait_for_line("listener 'tcp' backend 'app' server " +
                                             dead.address() +
                                             ": connect failed; trying the next server"))
      << sluice.process().output();
  EXPECT_EQ(sluice.process().count("could be reached"), 0u) << sluice.process().output();
}

TEST(TcpMode, SilentPairsAreClosedAfterTheIdleTimeout) {
  TestBackend backend([](BackendConnection& c) { c.wait_closed(20000); });
  SluiceInstance sluice(tcp_config(backend.address(), "", "    timeouts: {idle: 300ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto opened = std::chrono::steady_clock::now();
  RawConnection client(sluice.port("tcp"));
  EXPECT_TRUE(client.wait_closed(5000));
  const auto silent_for = std::chrono::steady_clock::now() - opened;
  EXPECT_GE(silent_for, std::chrono::milliseconds(300) - kTimerEarliness);
  // The idle timer, not the 60 s default or anything near it.
  EXPECT_LT(silent_for, std::chrono::milliseconds(300 + 1700));
  EXPECT_TRUE(backend.wait_for_closed_connections(1, 5000));
}

TEST(TcpMode, NginxThroughATcpListenerKeepsItsOwnHeadersAndConnections) {
  TempDir dir;
  const std::uint16_t port = free_loopback_port();
  const std::string conf = dir.write("nginx.conf", R"(daemon off;
worker_processes 1;
pid )" + (dir.path() / "nginx.pid").string() + R"(;
error_log stderr;
events { worker_connections 256; }
http {
  access_log off;
  server {
    listen 127.0.0.1:)" + std::to_string(port) + R"(;
    location / { return 200 "from nginx\n"; }
    location = /status { stub_status; }
  }
}
)");
  Process nginx({"nginx", "-c", conf, "-p", dir.path().string()});
  // nginx is up when it accepts a connection.
  ASSERT_TRUE(until_up([&] { return RawConnection(port).connected(); })) << nginx.output();
  SluiceInstance sluice(tcp_config("127.0.0.1:" + std::to_string(port)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(sluice.port("tcp")) + "/";
  auto head = run_command({"curl", "-sI", "-m", "5", url});
  ASSERT_EQ(head.exit_code, 0) << head.output;
  EXPECT_TRUE(
      std::regex_search(head.output, std::regex("Connection: keep-alive", std::regex::icase)))
      << head.output;
  EXPECT_TRUE(std::regex_search(head.output, std::regex("Server: nginx"))) << head.output;
  auto before = run_command(
      {"curl", "-s", "-m", "5", "http://127.0.0.1:" + std::to_string(port) + "/status"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(before.output, m, std::regex(R"(\n\s*(\d+) (\d+) (\d+))")));
  const long accepts_before = std::stol(m[1]);
  auto ab = run_command({"ab", "-k", "-n", "500", "-c", "5", "-s", "10", url});
  ASSERT_EQ(ab.exit_code, 0) << ab.output;
  EXPECT_TRUE(std::regex_search(ab.output, std::regex(R"(Keep-Alive requests:\s+500\b)")))
      << ab.output;
  auto after = run_command(
      {"curl", "-s", "-m", "5", "http://127.0.0.1:" + std::to_string(port) + "/status"});
  ASSERT_TRUE(std::regex_search(after.output, m, std::regex(R"(\n\s*(\d+) (\d+) (\d+))")));
  // One nginx connection per ab connection (5), plus the status request.
  EXPECT_EQ(std::stol(m[1]) - accepts_before, 5 + 1);
  nginx.stop(SIGTERM);
}

TEST(TcpMode, RedisBenchmarkThroughSluiceCompletesWithoutErrors) {
  TempDir dir;
  const std::uint16_t port = free_loopback_port();
  Process redis({"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                 "", "--appendonly", "no", "--dir", dir.path().string()});
  ASSERT_TRUE(redis.wait_for_line("Ready to accept connections", std::chrono::seconds(20)))
      << redis.output();
  SluiceInstance sluice(tcp_config("127.0.0.1:" + std::to_string(port)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto r = run_command({"redis-benchmark", "-q", "-n", "20000", "-p",
                        std::to_string(sluice.port("tcp")), "-t", "set,get,incr,lpush,lpop"},
                       std::chrono::seconds(120));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("SET: .*requests per second"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("GET: .*requests per second"))) << r.output;
  EXPECT_EQ(r.output.find("rror"), std::string::npos) << r.output;
  redis.stop(SIGTERM);
}

// ------------------------------------------------------------ PROXY protocol

TEST(ProxyProtocol, HttpListenerTakesTheClientFromV1AndV2Headers) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    proxy_protocol: true
routes:
  - backend: app
backends:
  app:
    servers: [)" + backend.address() +
                        "]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  {
    RawConnection client(sluice.port("web"));
    ASSERT_TRUE(
        client.send("PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
                    "GET /v1 HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(client.read_response());
  }
  {
    RawConnection client(sluice.port("web"));
    std::string v2("\r\n\r\n\0\r\nQUIT\n", 12);
    v2 += std::string("\x21\x11\x00\x0c", 4);  // PROXY, TCP4, 12 bytes
    v2 += std::string("\xc6\x33\x64\x09", 4);  // 198.51.100.9
    v2 += std::string("\x7f\x00\x00\x01", 4);  // 127.0.0.1
    v2 += std::string("\x15\xb3\x00\x50", 4);  // ports 5555, 80
    ASSERT_TRUE(client.send(v2 + "GET /v2 HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_TRUE(client.read_response());
  }
  {
    RawConnection client(sluice.port("web"));  // no header: refused
    ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_TRUE(client.wait_closed(5000));
  }
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].header("x-forwarded-for"), "203.0.113.7");
  EXPECT_EQ(seen[1].header("x-forwarded-for"), "198.51.100.9");
}

std::string haproxy_config(const std::string& body) {
  return "global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 5s\n"
         "  timeout client 30s\n  timeout server 30s\n" +
         body;
}

TEST(ProxyProtocol, HaproxyInFrontSendsV1AndV2ThatSluiceAccepts) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    proxy_protocol: true
routes:
  - backend: app
backends:
  app:
    servers: [)" + backend.address() +
                        "]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  TempDir dir;
  const std::uint16_t p1 = free_loopback_port(), p2 = free_loopback_port();
  const std::string web = "127.0.0.1:" + std::to_string(sluice.port("web"));
  const std::string cfg = dir.write(
      "haproxy.cfg",
      haproxy_config("frontend v1\n  bind 127.0.0.1:" + std::to_string(p1) +
                     "\n  default_backend s1\nbackend s1\n  server s " + web +
                     " send-proxy\nfrontend v2\n  bind 127.0.0.1:" + std::to_string(p2) +
                     "\n  default_backend s2\nbackend s2\n  server s " + web + " send-proxy-v2\n"));
  Process haproxy({"haproxy", "-db", "-f", cfg});
  for (std::uint16_t port : {p1, p2}) {
    // From 127.0.0.2: HAProxy's PROXY header names that address, while
    // sluice's socket peer (HAProxy) is 127.0.0.1.
    const bool ok = until_up([&] {
      return run_command({"curl", "-s", "-m", "2", "--interface", "127.0.0.2", "-o", "/dev/null",
                          "-w", "%{http_code}",
                          "http://127.0.0.1:" + std::to_string(port) + "/via-haproxy"})
                 .output == "200";
    });
    EXPECT_TRUE(ok) << "port " << port << "\n" << haproxy.output() << sluice.process().output();
  }
  const auto seen = backend.requests();
  EXPECT_GE(seen.size(), 2u);
  for (const auto& s : seen)
    EXPECT_EQ(s.header("x-forwarded-for"), "127.0.0.2") << s.raw_head;
  haproxy.stop(SIGTERM);
}

TEST(ProxyProtocol, SluiceSendsV1AndV2ThatHaproxyAccepts) {
  TestBackend backend(TestBackend::echo());
  TempDir dir;
  const std::uint16_t p1 = free_loopback_port(), p2 = free_loopback_port();
  const std::string cfg = dir.write(
      "haproxy.cfg", haproxy_config("frontend v1\n  bind 127.0.0.1:" + std::to_string(p1) +
                                    " accept-proxy\n  option forwardfor\n  default_backend b\n"
                                    "frontend v2\n  bind 127.0.0.1:" +
                                    std::to_string(p2) +
                                    " accept-proxy\n  option forwardfor\n  default_backend b\n"
                                    "backend b\n  server s " +
                                    backend.address() + "\n"));
  Process haproxy({"haproxy", "-db", "-f", cfg});
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: v1
    listen: 127.0.0.1:0
    protocol: tcp
    backend: one
  - name: v2
    listen: 127.0.0.1:0
    protocol: tcp
    backend: two
backends:
  one:
    servers: [{address: 127.0.0.1:)" +
                        std::to_string(p1) + R"(, send_proxy: v1}]
  two:
    servers: [{address: 127.0.0.1:)" +
                        std::to_string(p2) + ", send_proxy: v2}]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  for (const char* listener : {"v1", "v2"}) {
    const bool ok = until_up([&] {
      // From 127.0.0.2: HAProxy's socket peer is sluice (127.0.0.1), so
      // only our header can tell it 127.0.0.2.
      RawConnection client(sluice.port(listener), "127.0.0.1", "127.0.0.2");
      client.send("GET /via-sluice HTTP/1.1\r\nHost: t\r\n\r\n");
      auto r = client.read_response(false, 2000);
      return r && r->status == 200;
    });
    EXPECT_TRUE(ok) << listener << "\n" << haproxy.output();
  }
  const auto seen = backend.requests();
  ASSERT_GE(seen.size(), 2u);
  for (const auto& s : seen)
    EXPECT_EQ(s.header("x-forwarded-for"), "127.0.0.2");  // HAProxy read it from our header
  haproxy.stop(SIGTERM);
}

TEST(ProxyProtocol, HttpBackendThatAsksGetsTheHeaderOnEachOfItsConnections) {
  // Behind sluice (HTTP), HAProxy accepts PROXY v2 and adds X-Forwarded-For
  // from it. The client here is sluice's client, as HAProxy reports.
  TestBackend backend(TestBackend::echo());
  TempDir dir;
  const std::uint16_t hp = free_loopback_port();
  const std::string cfg = dir.write(
      "haproxy.cfg", haproxy_config("frontend f\n  bind 127.0.0.1:" + std::to_string(hp) +
                                    " accept-proxy\n  option forwardfor\n  default_backend b\n"
                                    "backend b\n  server s " +
                                    backend.address() + "\n"));
  Process haproxy({"haproxy", "-db", "-f", cfg});
  SluiceInstance sluice(R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    proxy_protocol: true
routes:
  - backend: app
backends:
  app:
    servers: [{address: 127.0.0.1:)" +
                        std::to_string(hp) + ", send_proxy: v2}]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const bool ok = until_up([&] {
    RawConnection client(sluice.port("web"));
    // Our client claims to be 192.0.2.44 (PROXY v1 to sluice); sluice
    // passes that on in its own v2 header to HAProxy.
    client.send(
        "PROXY TCP4 192.0.2.44 127.0.0.1 4000 80\r\nGET /chain HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = client.read_response(false, 2000);
    return r && r->status == 200;
  });
  ASSERT_TRUE(ok) << haproxy.output() << sluice.process().output();
  const auto seen = backend.requests();
  ASSERT_FALSE(seen.empty());
  // Two fields: sluice's own, and the one HAProxy adds from the address in
  // our PROXY v2 header: the client, not sluice.
  const auto range = seen.back().headers.equal_range("x-forwarded-for");
  int fields = 0;
  for (auto it = range.first; it != range.second; ++it, ++fields)
    EXPECT_EQ(it->second, "192.0.2.44") << seen.back().raw_head;
  EXPECT_EQ(fields, 2) << seen.back().raw_head;
  haproxy.stop(SIGTERM);
}

// Reads from `fd` until `needle` has arrived, the peer closes, or 10 s pass.
std::string read_until(int fd, std::string got, const std::string& needle) {
  char buf[4096];
  while (got.find(needle) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string v2_header(std::uint8_t command, std::uint8_t family, const std::string& addresses) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += static_cast<char>(0x20 | command);
  h += static_cast<char>(family);
  h += static_cast<char>(addresses.size() >> 8);
  h += static_cast<char>(addresses.size() & 0xff);
  return h + addresses;
}

TEST(ProxyProtocol, TcpListenerTakesTheClientFromTheHeaderAndPassesItOn) {
  // Behind a TCP listener with proxy_protocol, the server asks for a v1
  // header: what it receives names the client the incoming header named
  // (or, for LOCAL and UNKNOWN, the connection's own addresses), then the
  // client's bytes, without the incoming header. Clients connect from
  // 127.0.0.2, so a header naming the socket peer shows as such.
  std::mutex m;
  std::vector<std::string> received;
  TestBackend backend([&](BackendConnection& c) {
    const std::string got = read_until(c.fd_for_tests(), c.take_buffered(), "hello");
    {
      std::lock_guard lock(m);
      received.push_back(got);
    }
    c.send("ok");
    c.wait_closed(10000);
  });
  SluiceInstance sluice(tcp_config("{address: " + backend.address() + ", send_proxy: v1}", "",
                                   "    proxy_protocol: true\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("tcp");
  // Sends `first`, then `rest`; returns what the server received, and
  // in `own` the connection's "127.0.0.2 127.0.0.1 PORT PORT" part.
  auto through = [&](const std::string& first, const std::string& rest, std::string& own) {
    RawConnection client(port, "127.0.0.1", "127.0.0.2");
    EXPECT_TRUE(client.connected());
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&local), &len);
    own =
        "127.0.0.2 127.0.0.1 " + std::to_string(ntohs(local.sin_port)) + " " + std::to_string(port);
    EXPECT_TRUE(client.send(first));
    EXPECT_TRUE(client.send(rest));
    EXPECT_EQ(read_until(client.fd(), "", "ok"), "ok");
    std::lock_guard lock(m);
    return received.empty() ? std::string() : received.back();
  };
  std::string own;
  // v2, TCP over IPv6: 2001:db8::1 port 4242 to 2001:db8::2 port 443,
  // delivered in two pieces.
  std::string six(16, '\0');
  six[0] = '\x20', six[1] = '\x01', six[2] = '\x0d', six[3] = '\xb8', six[15] = '\x01';
  std::string six_dst = six;
  six_dst[15] = '\x02';
  const std::string v2_tcp6 =
      v2_header(1, 0x21, six + six_dst + std::string("\x10\x92\x01\xbb", 4));
  EXPECT_EQ(through(v2_tcp6.substr(0, 10), v2_tcp6.substr(10) + "hello", own),
            "PROXY TCP6 2001:db8::1 2001:db8::2 4242 443\r\nhello");
  EXPECT_EQ(through("PROXY TCP4 192.0.2.10 192.0.2.20 4000 8080\r\n", "hello", own),
            "PROXY TCP4 192.0.2.10 192.0.2.20 4000 8080\r\nhello");
  // LOCAL and UNKNOWN: the connection's own addresses.
  const std::string local = through(v2_header(0, 0x00, ""), "hello", own);
  EXPECT_EQ(local, "PROXY TCP4 " + own + "\r\nhello");
  const std::string unknown = through("PROXY UNKNOWN\r\n", "hello", own);
  EXPECT_EQ(unknown, "PROXY TCP4 " + own + "\r\nhello");
  EXPECT_EQ(backend.accepted(), 4);

  // No header, or a malformed one: closed, and no server is contacted.
  for (const std::string& bad :
       {std::string("hello"), std::string("PROXY TCP4 192.0.2.10 192.0.2.20 4000\r\nhello"),
        v2_header(2, 0x11, std::string(12, '\0')) + "hello"}) {
    RawConnection client(port, "127.0.0.1", "127.0.0.2");
    ASSERT_TRUE(client.send(bad));
    EXPECT_TRUE(client.wait_closed(5000)) << bad;
    EXPECT_TRUE(client.leftover().empty()) << bad;
  }
  EXPECT_EQ(backend.accepted(), 4);
  EXPECT_EQ(sluice.process().count("listener 'tcp' client 127.0.0.2:"), 3u)
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
