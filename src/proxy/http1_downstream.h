// The downstream of an exchange whose client speaks HTTP/1.x: the request
// body read from the client's connection and de-framed (http/body_decoder.h,
// at the pace body_pace.h asks), 100 Continue when the client waits for it,
// and the response written with the framing and Connection fields this
// client needs (http/h1_encoder.h). One per exchange, on its frame: an idle
// connection never holds one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/buffer_pool.h"
#include "core/byte_stream.h"
#include "core/timer_wheel.h"
#include "http/body_decoder.h"
#include "http/h1_encoder.h"
#include "proxy/body_pace.h"
#include "proxy/downstream.h"

namespace sluice {
class ConnectionScope;
}
namespace sluice::observe {
struct RequestRecord;
}

namespace sluice::proxy {

// The response head as an HTTP/1.<client_minor> client receives it: `res`,
// the fields its listener adds to every response (listener_response_fields),
// then the framing field of `framing` and the Connection fields for
// `keep_alive`. What queue_head() writes, without the connection, so that
// bench/micro/request_path_bench.cpp measures the same code. False on
// overflow.
bool encode_client_head(http::HeadWriter& out, const http::OutgoingResponse& res,
                        http::H1Framing framing, int client_minor, bool keep_alive,
                        const ListenerSettings& listener, bool secure,
                        const observe::RequestRecord* record);

class Http1Downstream final : public Downstream {
 public:
  struct Connection {
    ConnectionScope& scope;
    ByteStream& stream;
    // [0, head_end) the request head, which stays there until the exchange
    // ends; the body is read behind it. At the end [head_end, used) holds
    // what the client sent after this request (pipelined requests).
    Buffer& buf;
    std::size_t& used;
    std::size_t head_end;
    const ListenerSettings& listener;
    const SocketAddress& client;
    bool earlier_requests;
    std::uint64_t request_started_ms;
    std::string_view client_subject;  // a verified client certificate's subject; empty: none
  };
  // `write_timeout_ms`: the longest wait for the client to take a piece of
  // the response.
  Http1Downstream(const Connection& c, const http::RequestHead& head,
                  std::uint64_t write_timeout_ms);

  Task<BodyPiece> read_body() override;
  bool body_read() const override { return body_.done(); }
  Task<bool> send_interim(const http::OutgoingResponse& res) override;
  HeadSent queue_head(const http::OutgoingResponse& res) override;
  Task<bool> send_body(std::string_view data, bool end) override;
  void more_follows(bool more) override { more_follows_ = more; }
  Task<bool> send_trailers(std::span<const http::HeaderField> trailers) override;
  Task<bool> send_file(int fd, std::uint64_t offset, std::uint64_t length) override;
  void reset() override;
  Task<void> tunnel(ByteStream& server, std::string_view server_pending,
                    std::span<char> server_buffer, std::uint64_t write_timeout_ms) override;
  const SocketAddress& client_address() const override { return c_.client; }
  bool is_secure() const override { return c_.stream.is_secure(); }
  std::string_view client_certificate_subject() const override { return c_.client_subject; }
  bool earlier_requests() const override { return c_.earlier_requests; }

  // After the response: the connection may carry another request.
  bool keep_alive() const { return keep_alive_; }
  // Where what the client sent after this request begins in the buffer.
  std::size_t consumed_end() const { return c_.head_end + consumed_; }

 private:
  BodyPiece client_error(ErrorKind kind, const char* reason);
  void drop_consumed();
  Task<bool> read_more(BodyPiece& failure);
  // `more`: MSG_MORE (send_body's, for a piece with more waiting).
  ByteStream::WriteOp write(std::string_view a, std::string_view b = {}, std::string_view c = {},
                            std::string_view d = {}, bool more = false);
  std::span<char> head_buffer();
  Task<bool> finish_send_body(ByteStream::WriteOp::Rest rest, bool more);
  bool body_sent(const Result<std::size_t>& w, bool more);

  Connection c_;
  std::uint64_t write_timeout_ms_;
  int client_minor_;
  bool client_keep_alive_;
  bool expect_continue_;
  http::BodyDecoder body_;
  BodyPace pace_;
  std::size_t consumed_ = 0;  // bytes behind the head the last piece used
  bool first_read_ = true;
  Buffer head_buf_;            // the response head (taken when a response comes)
  std::size_t held_head_ = 0;  // head bytes waiting for the first body piece
  bool more_follows_ = false;  // the next write may use MSG_MORE (more_follows())
  char size_line_[24];         // the chunk size line of the piece being sent
  // A piece sent with MSG_MORE waits in the kernel for the next one. When
  // that is late (the server paused), this pushes it out within about a
  // millisecond instead of the kernel's 200: a stream never stalls on it.
  struct PushTimer : Timer {
    int fd = -1;
  } push_timer_;
  void hold_for_next_piece();
  http::H1Framing framing_ = http::H1Framing::none;
  bool keep_alive_ = false;
};

}  // namespace sluice::proxy
