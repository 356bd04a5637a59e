// The upstream codec for a server that speaks HTTP/2 (`protocol: h2` or
// `h2c`): one exchange's try is one stream on a connection of its worker's
// H2UpstreamPool, shared with other exchanges. The request goes out as
// HEADERS and DATA (and trailing HEADERS) frames; the response head, body
// and trailers come from the stream's state. The server's window on the
// stream opens only as the exchange takes the body (read_body hands out
// the bytes it has, and gives the window back on the next read), so a slow
// client holds at most one window of the response in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/frame_allocator.h"
#include "http/h2_client_connection.h"
#include "proxy/upstream_codec.h"
#include "proxy/upstream_connector.h"

namespace sluice {
class CancelToken;
class EventLoop;
}  // namespace sluice

namespace sluice::proxy {

class H2UpstreamConnection;
struct H2UpstreamStream;
struct WorkerContext;

class H2Upstream final : public UpstreamCodec, public FramePooled {
 public:
  H2Upstream(WorkerContext& ctx, EventLoop& loop, const Backend& backend, CancelToken* cancel);
  ~H2Upstream() override;
  H2Upstream(const H2Upstream&) = delete;
  H2Upstream& operator=(const H2Upstream&) = delete;

  // A stream to the connector's chosen server (picked and admitted): on a
  // pooled connection with room (waiting for one being connected), else on
  // a new connection. False: connect_error() says why.
  Task<bool> connect(UpstreamConnector& connector,
                     const UpstreamConnector::ConnectOptions& options);
  const ExchangeError& connect_error() const { return error_; }
  // The stream went on a connection that carried other exchanges.
  bool reused() const { return reused_; }
  // Ends this try's stream (reset when still open).
  void release();
  // The try failed on a stream the server did not process (RFC 9113 §8.7).
  bool not_processed() const;

  bool prepare(const http::OutgoingRequest& req) override;
  void queue_head() override;
  Task<bool> send_body(std::string_view data, bool end) override;
  // Ends the request body with trailer fields (a trailing HEADERS frame).
  Task<bool> send_trailers(std::span<const http::HeaderField> trailers) override;
  bool send_cancelled() const override { return send_cancelled_; }
  Task<HeadRead> read_head(std::uint64_t deadline_ms, std::span<http::HeaderField> fields,
                           http::Method request_method) override;
  Task<BodyPiece> read_body() override;
  bool answer_started() const override;
  // The connection stays in the HTTP/2 pool whatever happens here: the
  // exchange has nothing to give back.
  bool reusable() const override { return false; }
  // No tunnel over an HTTP/2 stream (RFC 9113 §8.5 and §8.6 are not done).
  std::string_view bytes_after_head() const override { return {}; }
  std::span<char> buffer() override { return {}; }

 private:
  HeadRead head_failed(ErrorKind kind, Phase phase, const char* reason, bool retryable);
  ExchangeError stream_error(Phase phase) const;
  void give_back_delivered();

  WorkerContext& ctx_;
  EventLoop& loop_;
  const Backend& backend_;
  CancelToken* cancel_;
  std::uint64_t io_timeout_ms_;
  const http::OutgoingRequest* request_ = nullptr;
  std::shared_ptr<H2UpstreamConnection> conn_;
  H2UpstreamStream* stream_ = nullptr;
  ExchangeError error_;
  char length_[24] = {};  // content-length's value
  std::string path_;      // :path when the target needs a "/" in front
  bool reused_ = false;
  bool head_sent_ = false;
  bool submit_failed_ = false;
  bool send_cancelled_ = false;
  bool head_request_ = false;
  http::ResponseHead head_;
  // The interim head last handed on (head_'s fields point into it).
  http::H2ClientStreamState::InterimHead interim_;
};

}  // namespace sluice::proxy
