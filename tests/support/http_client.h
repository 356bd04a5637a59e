// A deliberately simple, independent HTTP/1.1 client for tests: a blocking
// loopback socket, raw bytes out, responses parsed without sluice's codec so
// the test is an oracle rather than a mirror.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace sluice::test {

struct HttpResponse {
  int status = 0;
  std::string version;                              // "HTTP/1.1"
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string raw_head;
  // A chunked body's trailer section as received: its field lines, each
  // with its CRLF (not the blank line that ends it); empty when none came.
  std::string raw_trailers;
  std::optional<std::string> header(const std::string& lower_name) const;
  std::size_t count(const std::string& lower_name) const { return headers.count(lower_name); }
};

class RawConnection {
 public:
  // `source`: the local address to connect from (another loopback address,
  // such as 127.0.0.2, tells the client apart from sluice's own address).
  explicit RawConnection(std::uint16_t port, const char* host = "127.0.0.1",
                         const char* source = nullptr);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False on error, or when the peer has not taken a byte for 10 s.
  bool send(const std::string& bytes);
  // Reads one response. `head_request`: the request was HEAD (no body).
  // nullopt on timeout, EOF before a full response, or a malformed response.
  // `return_interim`: return a 1xx response instead of skipping it.
  std::optional<HttpResponse> read_response(bool head_request = false, int timeout_ms = 10000,
                                            bool return_interim = false);
  // True if the peer closes (EOF or reset) within the timeout, with no
  // further bytes (extra bytes are appended to `leftover`).
  bool wait_closed(int timeout_ms = 10000);
  // True once the bytes received (kept in `leftover`) contain `marker`;
  // false on EOF or timeout first.
  bool read_until(const std::string& marker, int timeout_ms = 10000);
  // Bytes received but not consumed by read_response.
  const std::string& leftover() const { return in_; }
  void shutdown_write();
  int fd() const { return fd_; }

 private:
  bool fill(int timeout_ms);  // reads more into in_; false on EOF/timeout
  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
};

// Sends `GET path` on `c` and returns the response body, or a marker
// ("<send failed>", "<no response>") that no test expects as a body.
std::string get_body(RawConnection& c, const std::string& path);

}  // namespace sluice::test
