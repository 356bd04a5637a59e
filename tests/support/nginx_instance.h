// A real nginx (Debian's /usr/sbin/nginx) as a backend for a test, plain or
// TLS, in its own temporary directory (configuration, pid, logs, temp
// paths), stopped when the test ends. Its access log records each request's
// connection serial, TLS version and resumption, so a test can count the
// connections and handshakes sluice made to it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice::test {

class Process;
class TempDir;

struct NginxOptions {
  bool tls = false;
  std::string cert_path, key_path;      // with tls
  std::string client_ca_path;           // non-empty: ssl_verify_client on, with this CA
  std::vector<std::string> alpn_http2;  // unused for now, leave room
  // Speak HTTP/2 on the port (nginx `listen ... http2`): h2c with prior
  // knowledge when plain, h2 by ALPN with tls. Every answer then carries
  // `X-Server-Protocol: <$server_protocol>` ("HTTP/2.0" over HTTP/2) and
  // `X-Connection: <$connection>`.
  bool http2 = false;
  int http2_max_concurrent_streams = 0;   // > 0: nginx's http2_max_concurrent_streams
  std::string body = "hello from nginx";  // what GET / answers (return 200 "..."); no '$'
  // Also listen on [::1] (same port): for a backend named "localhost",
  // which resolves to ::1 first where the host has IPv6 loopback.
  bool ipv6_loopback_too = false;
};

// Each access log line reads
//   conn=<$connection> reqs=<$connection_requests> proto=<$ssl_protocol>
//   reused=<$ssl_session_reused> sni=<$ssl_server_name>
//   client="<$ssl_client_s_dn>" status=<$status> request="<$request>"
// with "-" for an empty value (proto, reused, sni on a plain listener).
class NginxInstance {
 public:
  // Starts it (foreground, its own temp dir, prefix, pid, logs); waits until
  // it accepts. Throws std::runtime_error, with nginx's error log, when it
  // does not come up.
  explicit NginxInstance(NginxOptions options);
  // Stops it (SIGTERM, then SIGKILL if needed), waits.
  ~NginxInstance();
  NginxInstance(const NginxInstance&) = delete;
  NginxInstance& operator=(const NginxInstance&) = delete;

  std::uint16_t port() const;
  // Contents of its access log (for counting requests/connections).
  std::string access_log() const;
  // Distinct connection serial numbers in the access log ($connection).
  int connections_seen() const;
  // Waits until the access log holds at least `n` lines: nginx writes a
  // line after the response has gone, so a client may see the answer just
  // before the line exists. False after `timeout`.
  bool wait_for_requests(std::size_t n,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Its error log so far (for failure messages).
  std::string error_log() const;

 private:
  NginxOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace sluice::test
