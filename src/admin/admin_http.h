// The HTTP/1.1 rules of the admin listener apart from how bytes move
// (admin_server.cpp): what a request keeps once its head's bytes are gone,
// how its body is gathered, and how an answer's head is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "admin/endpoints.h"
#include "http/chunked_decoder.h"
#include "http/message.h"

namespace sluice::admin {

// What handling a request needs once the bytes of its head are gone.
struct AdminRequest {
  std::string method;
  std::string target;
  http::Framing framing = http::Framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  bool expect_continue = false;

  static AdminRequest from(const http::RequestHead& head);

  std::string line() const { return method + " " + target; }  // for the log
  bool has_body() const { return framing == http::Framing::chunked || content_length > 0; }
  // RFC 9110 §10.1.1: once the checks passed, a client that asked is told to
  // send its body; not when it has none, nor when it began sending it
  // anyway (`buffered`: bytes already here after the head).
  bool sends_continue(std::size_t buffered) const {
    return expect_continue && has_body() && buffered == 0;
  }
};

// The body of one request, gathered whole from the bytes as they arrive.
class BodyReader {
 public:
  enum class State : std::uint8_t {
    need_more,  // read more, then take() again from the bytes left
    done,
    too_large,  // a chunked body grew over max_body
    malformed,  // the chunked framing is broken; see reason()
  };
  struct Step {
    std::size_t consumed = 0;  // bytes of `buffered` that were the body's
    State state = State::need_more;
  };

  // A Content-Length over max_body is refused before its body is read
  // (access.h), so it is not counted here.
  BodyReader(const AdminRequest& req, std::uint64_t max_body);

  // Takes the body's bytes from the start of `buffered`, the connection's
  // unread bytes in a buffer of `capacity`. What follows the body (a
  // pipelined request) is not consumed.
  Step take(std::string_view buffered, std::size_t capacity);

  std::string& body() { return body_; }
  const char* reason() const { return reason_; }

 private:
  Step take_chunked(std::string_view buffered, std::size_t capacity);

  http::Framing framing_;
  std::uint64_t content_length_;
  std::uint64_t max_body_;
  http::ChunkedDecoder decoder_;
  std::string body_;
  const char* reason_ = "";
};

// The head of `r`: its status, type, length and fields, and Connection:
// close unless the connection stays open. A HEAD's answer keeps the
// length its GET would have (RFC 9110 §9.3.2); the caller leaves the body
// out.
std::string response_head(const AdminResponse& r, bool keep_alive);

}  // namespace sluice::admin
