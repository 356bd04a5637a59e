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
  // `listen ... http2`: h2c with prior knowledge on a plain listener, and
  // ALPN "h2" (beside http/1.1) with tls. HTTP/1.1 is still served on a
  // TLS listener; a plain one then speaks HTTP/2 only.
  bool http2 = false;
  // Non-empty ("127.0.0.1:PORT"): location / proxies every request to this
  // HTTP/1.1 server (the whole request body read first), Host kept,
  // instead of answering `body`.
  std::string proxy_pass;
  // Every answer carries `X-Server-Protocol: <$server_protocol>`
  // ("HTTP/2.0" over HTTP/2) and `X-Connection: <$connection>`.
  bool protocol_headers = false;
  int http2_max_concurrent_streams = 0;   // > 0: nginx's http2_max_concurrent_streams
  std::string body = "hello from nginx";  // what GET / answers (return 200 "..."); no '$'
  // Also listen on [::1] (same port): for a backend named "localhost",
  // which resolves to ::1 first where the host has IPv6 loopback.
  bool ipv6_loopback_too = false;
  // Each becomes `location PREFIX { proxy_pass http://ADDRESS; }` with
  // HTTP/1.1 and keep-alive to the backend, Host from the request's
  // host and port, X-Forwarded-Proto $scheme and no body size limit.
  struct ProxyRoute {
    std::string prefix;   // "/app/"
    std::string address;  // "127.0.0.1:8080"
  };
  std::vector<ProxyRoute> proxy_routes;
  // More directives for the server block, verbatim ("http2_max_concurrent_streams 100;").
  std::string server_extra;
  // A master process and one worker instead of a single process: the
  // master's signals then act as documented, SIGQUIT stopping gracefully and
  // SIGHUP reloading (old workers finish their requests).
  bool master_process = false;
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
  // The nginx process (the master with master_process): for signals.
  Process& process();

 private:
  NginxOptions options_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Process> process_;
  std::uint16_t port_ = 0;
};

}  // namespace sluice::test
