// SNI routing on tcp listeners (issue 16), end to end with real nginx TLS
// backends and curl: the server name in the ClientHello picks the backend
// and the bytes pass untouched (the client verifies the backend's own
// certificate through sluice), a hello split over many writes still
// routes, clients without a known name go to the fallback backend or are
// closed, a hello that never completes is closed after the header
// timeout, and a listener that terminates TLS routes by the handshake's
// name.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/nginx_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

IssuedCert issue(TestPki& pki, const std::string& stem, std::vector<std::string> dns,
                 std::vector<std::string> ips = {}) {
  CertSpec spec;
  spec.dns_names = std::move(dns);
  spec.ip_addresses = std::move(ips);
  return pki.issue(stem, spec);
}

NginxOptions tls_nginx(const IssuedCert& cert, const std::string& body) {
  NginxOptions o;
  o.tls = true;
  o.cert_path = cert.cert_path;
  o.key_path = cert.key_path;
  o.body = body;
  return o;
}

NginxOptions plain_nginx(const std::string& body) {
  NginxOptions o;
  o.body = body;
  return o;
}

// Three TLS backends with certificates from one CA: a.example.com,
// *.b.example.com, and a fallback (fallback.example.com and 127.0.0.1).
struct Backends {
  TempDir dir;
  TestPki pki{dir.path().string()};
  NginxInstance a{tls_nginx(issue(pki, "a", {"a.example.com"}), "nginx a")};
  NginxInstance b{tls_nginx(issue(pki, "b", {"*.b.example.com"}), "nginx b")};
  NginxInstance fallback{
      tls_nginx(issue(pki, "fallback", {"fallback.example.com"}, {"127.0.0.1"}), "nginx fallback")};
};

std::string server(const NginxInstance& n) {
  return "127.0.0.1:" + std::to_string(n.port());
}

// A tcp listener 'pass' routing a.example.com to backend a and
// *.b.example.com to backend b; `fallback_server` non-empty: others go to
// backend 'fallback' on it. `listener_extra`: more lines under the listener.
std::string passthrough_config(const std::string& a, const std::string& b,
                               const std::string& fallback_server,
                               const std::string& listener_extra = "") {
  std::string c = R"(workers: 1
listeners:
  - name: pass
    listen: 127.0.0.1:0
    protocol: tcp
    sni_routes:
      - {host: a.example.com, backend: a}
      - {host: "*.b.example.com", backend: b}
)";
  if (!fallback_server.empty()) c += "    backend: fallback\n";
  c += listener_extra;
  c += "backends:\n  a: {servers: [" + a + "]}\n  b: {servers: [" + b + "]}\n";
  if (!fallback_server.empty()) c += "  fallback: {servers: [" + fallback_server + "]}\n";
  return c;
}

// curl -v to https://NAME:PORT/ with NAME resolved to 127.0.0.1 (so it
// goes out as SNI), trusting `ca`; `extra` before the URL.
CommandResult curl_name(const std::string& name, std::uint16_t port, const std::string& ca,
                        std::vector<std::string> extra = {}) {
  const std::string p = std::to_string(port);
  std::vector<std::string> argv = {
      "curl", "-sS", "-v", "-m", "10", "--cacert", ca, "--resolve", name + ":" + p + ":127.0.0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back("https://" + name + ":" + p + "/");
  return run_command(argv);
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string fixture(const std::string& name) {
  std::ifstream in(source_dir() + "/tests/unit/tls/fixtures/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TlsPassthrough, ServerNamePicksTheBackendAndTheClientVerifiesItsOwnCertificate) {
  Backends n;
  SluiceInstance sluice(passthrough_config(server(n.a), server(n.b), server(n.fallback)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("pass");

  // Verified against the test CA for the name asked: the certificate is
  // the backend's own, end to end.
  const auto to_a = curl_name("a.example.com", port, n.pki.ca_path());
  ASSERT_EQ(to_a.exit_code, 0) << to_a.output << sluice.process().output();
  EXPECT_TRUE(has(to_a.output, "subject: CN=a.example.com")) << to_a.output;
  EXPECT_TRUE(has(to_a.output, "nginx a")) << to_a.output;
  ASSERT_TRUE(n.a.wait_for_requests(1));
  EXPECT_TRUE(has(n.a.access_log(), "sni=a.example.com")) << n.a.access_log();

  const auto to_b = curl_name("x.b.example.com", port, n.pki.ca_path());
  ASSERT_EQ(to_b.exit_code, 0) << to_b.output << sluice.process().output();
  EXPECT_TRUE(has(to_b.output, "subject: CN=*.b.example.com")) << to_b.output;
  EXPECT_TRUE(has(to_b.output, "nginx b")) << to_b.output;
  ASSERT_TRUE(n.b.wait_for_requests(1));
  EXPECT_TRUE(has(n.b.access_log(), "sni=x.b.example.com")) << n.b.access_log();

  EXPECT_EQ(n.fallback.access_log(), "");
}

TEST(TlsPassthrough, UnknownNameOrNoServerNameGoesToTheFallbackBackend) {
  Backends n;
  SluiceInstance sluice(passthrough_config(server(n.a), server(n.b), server(n.fallback)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("pass");

  // A wildcard stands for one label only: y.x.b.example.com has no route.
  const auto unknown = curl_name("y.x.b.example.com", port, n.pki.ca_path(), {"-k"});
  ASSERT_EQ(unknown.exit_code, 0) << unknown.output << sluice.process().output();
  EXPECT_TRUE(has(unknown.output, "nginx fallback")) << unknown.output;
  EXPECT_TRUE(has(unknown.output, "subject: CN=fallback.example.com")) << unknown.output;

  // curl sends no SNI to an IP address; the fallback's certificate has it.
  const auto no_sni = run_command({"curl", "-sS", "-m", "10", "--cacert", n.pki.ca_path(),
                                   "https://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_EQ(no_sni.exit_code, 0) << no_sni.output << sluice.process().output();
  EXPECT_EQ(no_sni.output, "nginx fallback");

  ASSERT_TRUE(n.fallback.wait_for_requests(2));
  EXPECT_EQ(n.a.access_log(), "");
  EXPECT_EQ(n.b.access_log(), "");
}

TEST(TlsPassthrough, WithoutFallbackUnknownNameAndNoServerNameAreClosed) {
  Backends n;
  SluiceInstance sluice(passthrough_config(server(n.a), server(n.b), ""));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("pass");

  const std::string hello = fixture("openssl_no_sni.bin");
  ASSERT_FALSE(hello.empty());
  RawConnection no_sni(port);
  ASSERT_TRUE(no_sni.send(hello));
  EXPECT_TRUE(no_sni.wait_closed(5000));
  EXPECT_EQ(no_sni.leftover(), "");  // closed without a byte: no server answered

  const auto unknown = curl_name("unknown.example.com", port, n.pki.ca_path(), {"-k"});
  EXPECT_NE(unknown.exit_code, 0) << unknown.output;

  RawConnection plain(port);
  ASSERT_TRUE(plain.send("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n"));
  EXPECT_TRUE(plain.wait_closed(5000));
  EXPECT_EQ(plain.leftover(), "");

  EXPECT_EQ(n.a.access_log() + n.b.access_log(), "");
}

TEST(TlsPassthrough, PlainHttpGoesToTheFallbackBackend) {
  TempDir dir;
  TestPki pki(dir.path().string());
  NginxInstance a(tls_nginx(issue(pki, "a", {"a.example.com"}), "nginx a"));
  NginxInstance fallback(plain_nginx("plain fallback"));
  SluiceInstance sluice(passthrough_config(server(a), server(a), server(fallback)));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("pass"));
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n"));
  const auto r = c.read_response();
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "plain fallback");
  EXPECT_EQ(a.access_log(), "");
}

// Accepts one client and relays it to 127.0.0.1:`to` both ways, but sends
// the client's first TLS record (its ClientHello) in `piece`-byte writes,
// each its own TCP segment, a few milliseconds apart: sluice reads the
// hello in many pieces. The pause is the stimulus (segments sluice cannot
// read together), not a synchronisation.
class SplittingRelay {
 public:
  SplittingRelay(std::uint16_t to, std::size_t piece) : to_(to), piece_(piece) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 1) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("SplittingRelay: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~SplittingRelay() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }
  // How many writes the hello went in (0 until it has gone).
  std::size_t pieces_sent() const { return pieces_; }

 private:
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  void run() {
    if (!readable(listen_fd_)) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    const int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(to_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (client >= 0 && ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      std::string hello;
      if (read_record(client, hello)) {
        send_in_pieces(up, hello);
        pump(client, up);
      }
    }
    if (client >= 0) ::close(client);
    ::close(up);
  }

  // The first TLS record: a 5-byte header, then its length in bytes.
  static std::size_t record_size(const std::string& bytes) {
    if (bytes.size() < 5) return 5;
    return 5 + ((std::size_t{static_cast<unsigned char>(bytes[3])} << 8) |
                static_cast<unsigned char>(bytes[4]));
  }

  bool read_record(int fd, std::string& record) {
    char buf[16384];
    while (record.size() < record_size(record)) {
      if (!readable(fd)) return false;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      record.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }

  void send_in_pieces(int fd, const std::string& bytes) {
    for (std::size_t at = 0; at < bytes.size(); at += piece_) {
      const std::size_t n = std::min(piece_, bytes.size() - at);
      if (::send(fd, bytes.data() + at, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) return;
      ++pieces_;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // stimulus, see above
    }
  }

  void pump(int client, int up) {
    char buf[16384];
    bool client_open = true, up_open = true;
    while (!stop_ && (client_open || up_open)) {
      pollfd p[2] = {{client, static_cast<short>(client_open ? POLLIN : 0), 0},
                     {up, static_cast<short>(up_open ? POLLIN : 0), 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const int from = i == 0 ? client : up;
        const int to = i == 0 ? up : client;
        const ssize_t n = ::recv(from, buf, sizeof buf, 0);
        if (n <= 0) {
          ::shutdown(to, SHUT_WR);
          (i == 0 ? client_open : up_open) = false;
          continue;
        }
        if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
      }
    }
  }

  std::uint16_t to_;
  std::size_t piece_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> pieces_{0};
  std::thread thread_;
};

TEST(TlsPassthrough, ClientHelloSplitOverManyWritesStillRoutes) {
  Backends n;
  // No fallback: a hello read only in part would close the connection.
  SluiceInstance sluice(passthrough_config(server(n.a), server(n.b), ""));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  SplittingRelay relay(sluice.port("pass"), 40);
  const auto r = curl_name("x.b.example.com", relay.port(), n.pki.ca_path());
  ASSERT_EQ(r.exit_code, 0) << r.output << sluice.process().output();
  EXPECT_TRUE(has(r.output, "nginx b")) << r.output;
  EXPECT_GT(relay.pieces_sent(), 5u);
  ASSERT_TRUE(n.b.wait_for_requests(1));
  EXPECT_TRUE(has(n.b.access_log(), "sni=x.b.example.com")) << n.b.access_log();
}

// A client that starts a hello and goes quiet must not hold its connection
// (and sluice's buffer) for ever: the listener's header timeout ends it.
TEST(TlsPassthrough, PartialClientHelloIsClosedAfterTheHeaderTimeout) {
  Backends n;
  SluiceInstance sluice(passthrough_config(server(n.a), server(n.b), "",
                                           "    timeouts: {header: 500ms, idle: 60s}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string hello = fixture("curl.bin");
  ASSERT_GT(hello.size(), 40u);
  RawConnection c(sluice.port("pass"));
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send(hello.substr(0, 40)));
  EXPECT_TRUE(c.wait_closed(10'000));
  const auto waited = std::chrono::steady_clock::now() - sent;
  EXPECT_GE(waited, std::chrono::milliseconds(450));
  EXPECT_LT(waited, std::chrono::seconds(5));
  EXPECT_EQ(n.a.access_log() + n.b.access_log(), "");
  // Nor is the operator told that the timeout they set does nothing.
  EXPECT_EQ(sluice.process().count("timeouts.header: ignored"), 0u) << sluice.process().output();
}

// tls + sni_routes: sluice terminates TLS with its own certificates and
// routes the plain bytes by the name the handshake used.
TEST(TlsPassthrough, TerminatingListenerRoutesByTheHandshakesServerName) {
  TempDir dir;
  TestPki pki(dir.path().string());
  const IssuedCert cert_a = issue(pki, "a", {"a.example.com"});
  const IssuedCert cert_b = issue(pki, "b", {"*.b.example.com"});
  NginxInstance a(plain_nginx("plain a"));
  NginxInstance b(plain_nginx("plain b"));
  SluiceInstance sluice(passthrough_config(
      server(a), server(b), "",
      "    tls:\n      certificates:\n        - {cert: " + cert_a.cert_path +
          ", key: " + cert_a.key_path + "}\n        - {cert: " + cert_b.cert_path +
          ", key: " + cert_b.key_path + "}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("pass");

  const auto to_a = curl_name("a.example.com", port, pki.ca_path());
  ASSERT_EQ(to_a.exit_code, 0) << to_a.output << sluice.process().output();
  EXPECT_TRUE(has(to_a.output, "subject: CN=a.example.com")) << to_a.output;
  EXPECT_TRUE(has(to_a.output, "plain a")) << to_a.output;

  const auto to_b = curl_name("x.b.example.com", port, pki.ca_path());
  ASSERT_EQ(to_b.exit_code, 0) << to_b.output << sluice.process().output();
  EXPECT_TRUE(has(to_b.output, "subject: CN=*.b.example.com")) << to_b.output;
  EXPECT_TRUE(has(to_b.output, "plain b")) << to_b.output;

  ASSERT_TRUE(a.wait_for_requests(1));
  ASSERT_TRUE(b.wait_for_requests(1));
  EXPECT_TRUE(has(a.access_log(), "proto=- ")) << a.access_log();  // plain bytes to the backend
}

}  // namespace
}  // namespace sluice::test
