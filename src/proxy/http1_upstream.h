// The upstream codec for a server that speaks HTTP/1.1: request heads and
// bodies in HTTP/1 syntax (http/h1_encoder.h), response heads parsed
// (http/parser.h) and bodies de-framed (http/body_decoder.h), over one
// pooled or new upstream connection per try.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/buffer_pool.h"
#include "core/byte_stream.h"
#include "http/body_decoder.h"
#include "http/parser.h"
#include "proxy/upstream_codec.h"

namespace sluice {
class EventLoop;
}

namespace sluice::proxy {

class UpstreamConnection;

class Http1Upstream final : public UpstreamCodec {
 public:
  // `io_timeout_ms`: the longest wait for any write, and for any read of
  // the response body (the backend's timeouts.idle).
  // `bulk`: where a larger buffer comes from once a body arrives faster than
  // one buffer drains it (read_body); null: the body moves through `buffers`'.
  Http1Upstream(EventLoop& loop, BufferPool& buffers, BufferPool* bulk,
                std::uint64_t io_timeout_ms);

  // Starts a try on `conn` (it outlives the try).
  void attach(UpstreamConnection& conn);

  bool prepare(const http::OutgoingRequest& req) override;
  void queue_head() override { held_head_ = prepared_head_; }
  Task<bool> send_body(std::string_view data, bool end) override;
  Task<bool> send_trailers(std::span<const http::HeaderField> trailers) override;
  bool send_cancelled() const override { return send_cancelled_; }
  Task<HeadRead> read_head(std::uint64_t deadline_ms, std::span<http::HeaderField> fields,
                           http::Method request_method) override;
  Task<BodyPiece> read_body() override;
  bool answer_started() const override { return answer_started_; }
  bool reusable() const override { return clean_ && request_sent_ && body_ended_; }
  std::string_view bytes_after_head() const override;
  std::span<char> buffer() override { return {buf_.data(), buf_.capacity()}; }

 private:
  ByteStream::WriteOp write(std::string_view a, std::string_view b = {}, std::string_view c = {},
                            std::string_view d = {});
  bool sent(const Result<std::size_t>& w);
  Task<bool> finish_send_body(ByteStream::WriteOp::Rest rest, bool end);
  bool body_sent(const Result<std::size_t>& w, bool end);
  Task<BodyPiece> read_body_from_server();
  BodyPiece decode_body(std::size_t start);
  HeadRead head_failed(ErrorKind kind, const char* reason);
  void drop_head();
  void note_keep_alive_hint(const http::ResponseHead& head);
  void take_bulk_buffer();

  EventLoop& loop_;
  std::uint64_t io_timeout_ms_;
  UpstreamConnection* conn_ = nullptr;
  Buffer scratch_;                 // the request head as encoded once
  std::size_t prepared_head_ = 0;  // its length
  std::size_t held_head_ = 0;      // bytes of scratch_ waiting for the first body piece
  bool chunked_request_ = false;   // the request body goes out chunked
  char size_line_[24];             // the chunk size line of the piece being sent
  bool request_sent_ = false;      // the whole request reached the server
  bool send_cancelled_ = false;
  BufferPool* bulk_;
  Buffer buf_;  // bytes from the server
  std::size_t used_ = 0;
  std::size_t head_bytes_ = 0;  // the last parsed head's bytes at buf_'s front
  std::optional<http::ResponseParser> parser_;
  std::optional<http::BodyDecoder> body_;
  bool first_body_read_ = true;
  bool body_ended_ = false;
  bool answer_started_ = false;
  bool clean_ = true;  // the server did not ask to close, nor send stray bytes
};

}  // namespace sluice::proxy
