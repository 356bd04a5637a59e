// The HTTP/1.1 client forward_auth asks its auth server with: keep-alive
// connections pooled per worker, one request at a time on each, the whole
// exchange within a deadline.
//
// Why idle connections are parked as a bare descriptor (and TLS state)
// rather than as a ByteStream: a stream is registered with its worker's
// loop, and a middleware may be destroyed on any thread (the last
// configuration that named it goes away on the control thread, or after
// the loops are gone at exit). A parked connection touches no loop, so it
// can be closed anywhere. The price is one epoll_ctl to take a connection
// and one to park it. Whether the server closed a parked connection is
// checked when it is taken (a peek), and a reused connection that fails
// before the first byte of an answer is replaced once by a fresh one: the
// auth request is safe to repeat (it asks, it changes nothing).
#pragma once

#include <openssl/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/address.h"
#include "core/byte_stream.h"
#include "core/task.h"
#include "http/message.h"
#include "middleware/middleware.h"
#include "tls/client_context.h"

namespace sluice::middleware {

struct AuthServer {
  SocketAddress address;
  std::string name;                         // the address as configured, for log lines
  std::shared_ptr<tls::ClientContext> tls;  // null: plain TCP
  std::string sni;                          // sent (empty: none)
  std::string verify_name;                  // checked against the certificate
  std::uint64_t max_response_body = 64 * 1024;
  std::size_t max_idle = 32;  // per worker
};

// The auth server's answer: its status, its end-to-end fields (hop-by-hop
// and framing fields dropped, RFC 9110 §7.6.1) and its body.
struct AuthAnswer {
  int status = 0;
  std::vector<Field> fields;
  std::string body;
  bool body_too_large = false;  // beyond max_response_body: `body` is not all of it
};

enum class AuthFailure : std::uint8_t {
  none,
  connect,    // no connection (refused, unreachable, TLS handshake failed)
  timeout,    // no whole answer within the deadline
  malformed,  // not an HTTP/1 answer, or cut short
  cancelled,  // the client went away
};

class AuthClient {
 public:
  AuthClient(AuthServer server, std::size_t workers);
  ~AuthClient();
  AuthClient(const AuthClient&) = delete;
  AuthClient& operator=(const AuthClient&) = delete;

  // Sends `head` then `body` (the request as written, for `method`) and
  // reads the answer into `out`, all within `timeout_ms`. Runs on
  // ctx.loop; per-worker state is ctx.worker's, so a worker never waits
  // for another. `why` says what failed, for a log line.
  Task<AuthFailure> exchange(const Context& ctx, std::string_view head, std::string_view body,
                             http::Method method, std::uint64_t timeout_ms, AuthAnswer& out,
                             std::string& why);

  const AuthServer& server() const { return server_; }
  // Connections opened so far, by all workers (for the log and tests).
  std::uint64_t opened() const { return opened_.load(std::memory_order_relaxed); }

 private:
  // An idle keep-alive connection, off any loop.
  class Parked {
   public:
    Parked(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
    Parked(Parked&& o) noexcept;
    Parked& operator=(Parked&& o) noexcept;
    ~Parked();
    int take_fd() { return std::exchange(fd_, -1); }
    SSL* take_ssl() { return std::exchange(ssl_, nullptr); }

   private:
    int fd_;
    SSL* ssl_;
  };
  // One worker's: touched only on that worker's thread.
  struct WorkerPool {
    std::vector<Parked> idle;  // most recently parked last
  };

  std::unique_ptr<ByteStream> take_idle(const Context& ctx);
  Task<std::unique_ptr<ByteStream>> open(const Context& ctx, std::uint64_t deadline_ms,
                                         AuthFailure& failure, std::string& why);
  void park(const Context& ctx, std::unique_ptr<ByteStream> stream);
  // One request and its answer on `stream`. `answered`: a byte of an
  // answer came; `reusable`: the connection may carry another exchange.
  Task<AuthFailure> ask(ByteStream& stream, std::string_view head, std::string_view body,
                        http::Method method, std::uint64_t deadline_ms, AuthAnswer& out,
                        std::string& why, bool& answered, bool& reusable);

  AuthServer server_;
  std::vector<WorkerPool> pools_;
  tls::ResumptionSlot resumption_;
  std::atomic<std::uint64_t> opened_{0};
};

}  // namespace sluice::middleware
