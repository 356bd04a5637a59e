// A kept-alive TLS connection between requests is idle as a plain one is:
// it waits under timeouts.idle (not timeouts.header), counts as idle, and
// holds no buffer. (OpenSSL reads ahead, so a TLS read never proves the
// socket drained; the session must ask before it waits.)
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "integration/sluice_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

// One TLS connection: a request, "answered" printed, then idle for
// `idle_s` seconds (the behaviour under test: a client that pauses), then
// a second request on the same connection and its status line printed.
std::string client_script(std::uint16_t port, double idle_s) {
  return R"(
import socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", )" +
         std::to_string(port) + R"()), server_hostname="a.example.com")
f = s.makefile("rb")
def ask():
    s.sendall(b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
    status = f.readline()
    length = 0
    while True:
        line = f.readline()
        if not line or line == b"\r\n": break
        if line.lower().startswith(b"content-length:"): length = int(line.split(b":")[1])
    f.read(length)
    return status.decode().strip()
print("answered", ask(), flush=True)
time.sleep()" +
         std::to_string(idle_s) + R"()
try:
    print("again", ask(), flush=True)
except Exception as e:
    print("again failed", e, flush=True)
)";
}

TEST(TlsIdle, AKeptAliveTlsConnectionWaitsUnderTheIdleTimeoutHoldingNoBuffer) {
  TempDir dir;
  TestPki pki(dir.path().string());
  CertSpec spec;
  spec.dns_names = {"a.example.com"};
  const auto cert = pki.issue("a", spec);
  SluiceInstance sluice(R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: {header: 500ms, idle: 30s}
    tls:
      certificates: [{cert: )" +
                        cert.cert_path + ", key: " + cert.key_path + R"(}]
routes:
  - match: {path: /}
    respond: {status: 200, body: "hello\n"}
)");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  Process client({"python3", "-c", client_script(sluice.port("web"), 1.5)});
  ASSERT_TRUE(client.wait_for_line("answered HTTP/1.1 200", std::chrono::seconds(20)))
      << client.output();

  // Between requests: idle, and no buffer lent (/debug/memory counts both).
  std::string memory;
  for (int i = 0; i < 100; ++i) {
    const auto m = sluice.admin_get("/debug/memory");
    ASSERT_TRUE(m);
    memory = m->body;
    if (std::regex_search(memory,
                          std::regex(R"("client_connections": \{"active": 0, "idle": 1\})")))
      break;
    ASSERT_TRUE(client.running()) << client.output();
  }
  EXPECT_TRUE(
      std::regex_search(memory, std::regex(R"("client_connections": \{"active": 0, "idle": 1\})")))
      << memory;
  EXPECT_TRUE(std::regex_search(memory, std::regex(R"("buffers": \{"in_use": 0,)"))) << memory;

  // Past the header timeout, the connection still carries the next request.
  ASSERT_TRUE(client.wait_for_line("again", std::chrono::seconds(20))) << client.output();
  EXPECT_NE(client.output().find("again HTTP/1.1 200"), std::string::npos) << client.output();
}

}  // namespace
}  // namespace sluice::test
