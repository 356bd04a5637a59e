// Blocking HTTP/1.1 over TCP or TLS for the etcd client: one connection,
// requests written whole, responses read with the project's own parsers
// (http/parser.h for the head, http/body_decoder.h for the body), every
// wait bounded by a deadline and, for a watch, by a stop flag looked at
// every 100 ms. Nothing here trusts the server: a head, a body and a
// streamed message each have a size limit.
#pragma once

#include <openssl/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/body_decoder.h"
#include "http/parser.h"

namespace sluice::tls {
class ClientContext;
}

namespace sluice::fleet::http1 {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// An endpoint URL: http://HOST[:PORT][/] or https://...; HOST may be a name,
// an IPv4 address or a bracketed IPv6 address. etcd's port by default.
struct Endpoint {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string url;        // as given, for messages
  std::string authority;  // for the Host field
};
std::optional<Endpoint> parse_endpoint(std::string_view url, std::string& error);

enum class Io {
  ok,
  closed,     // the peer ended the stream
  timed_out,  // the deadline passed
  stopped,    // the stop flag became true
  failed,     // an error; the message says which
};

class Connection {
 public:
  // Connects (resolving the host, trying each address) and, for https,
  // runs the TLS handshake with `tls` (verifying the server's name). Null
  // with `error` set when it cannot, or when `stop` became true.
  static std::unique_ptr<Connection> open(const Endpoint& endpoint, tls::ClientContext* tls,
                                          Deadline deadline, std::string& error,
                                          const std::atomic<bool>* stop = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Io write_all(std::string_view bytes, Deadline deadline, std::string& error);
  // Appends what arrives (at most `max` bytes) to `buffer`.
  Io read_some(std::string& buffer, std::size_t max, Deadline deadline,
               const std::atomic<bool>* stop, std::string& error);
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Connection(int fd, Endpoint endpoint) : fd_(fd), endpoint_(std::move(endpoint)) {}
  // Waits until the descriptor is readable (or writable); stop is looked
  // at every 100 ms.
  Io wait(bool for_write, Deadline deadline, const std::atomic<bool>* stop, std::string& error);
  Io handshake(Deadline deadline, const std::atomic<bool>* stop, std::string& error);

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  Endpoint endpoint_;
};

// One response read from a connection: the head, then the body, all of it
// (read_whole_body) or piece by piece (read_body_some, for a watch).
class ResponseReader {
 public:
  static constexpr std::size_t kMaxHeadBytes = 16 * 1024;

  explicit ResponseReader(Connection& connection) : connection_(connection) {}

  // Reads until a final (non-1xx) head has arrived and been parsed.
  Io read_head(Deadline deadline, const std::atomic<bool>* stop, std::string& error);
  // The server ended or reset the connection before a byte of answer: on a
  // kept-alive connection, it had dropped it before our request came.
  bool dropped_unanswered() const { return dropped_unanswered_; }
  int status() const { return status_; }
  // The connection may carry another request after this response.
  bool reusable() const { return keep_alive_ && body_.done(); }
  bool body_done() const { return body_.done(); }

  // The whole body, at most `max` bytes (more: failed).
  Io read_whole_body(std::string& out, std::size_t max, Deadline deadline, std::string& error);
  // Appends the body's data that has arrived (waiting for some when none
  // has) to `out`; ok with body_done() once the body has ended.
  Io read_body_some(std::string& out, Deadline deadline, const std::atomic<bool>* stop,
                    std::string& error);

 private:
  Connection& connection_;
  std::string buffer_;  // received and not yet decoded
  int status_ = 0;
  bool keep_alive_ = false;
  std::uint64_t content_length_ = 0;
  bool received_any_ = false;
  bool dropped_unanswered_ = false;  // as announced, with Content-Length framing
  http::BodyDecoder body_{http::Framing::none, 0};
};

}  // namespace sluice::fleet::http1
