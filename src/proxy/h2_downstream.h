// The downstream of an exchange whose client speaks HTTP/2: one stream of
// an h2 connection (h2_session.h). The request body comes from the
// stream's DATA frames, and the client's window opens only as the exchange
// takes the bytes, so a stream never holds more than its window; the
// response goes out as HEADERS, DATA and trailing HEADERS frames through
// the connection's codec (http/h2_connection.h), as fast as the client's
// windows let it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/address.h"
#include "core/frame_allocator.h"
#include "core/signal.h"
#include "core/waiter.h"
#include "http/h2_connection.h"
#include "proxy/body_pace.h"
#include "proxy/downstream.h"

namespace sluice::observe {
struct RequestRecord;
}

namespace sluice::proxy {

struct ListenerSettings;

// One stream: the codec's state of it, and what its exchange waits on.
// Owned by the session; freed once both the codec has closed it and its
// task has ended.
struct H2Stream : FramePooled {  // one per request: from the pooled lists
  http::H2StreamState state;
  CancelToken cancel;      // the client reset the stream, or the connection ended
  Signal wake;             // body came, output was taken, or the stream closed
  std::string delivering;  // request body bytes handed to the exchange
  std::uint64_t last_activity_ms = 0;
  bool task_running = false;
  bool response_done = false;  // the whole response was handed to the codec
  // The request's record for metrics and logs (request_finish.h); null
  // when nothing observes requests.
  observe::RequestRecord* record = nullptr;
};

// What a stream needs of its connection.
struct H2StreamLink {
  http::H2ServerConnection& codec;
  Signal& writer;  // raised when the codec has frames to send
  EventLoop& loop;
  const ListenerSettings& listener;
  const SocketAddress& client;
  bool secure;
  std::string_view client_subject;
  std::uint64_t zero_window_timeout_ms;
};

class H2Downstream final : public Downstream {
 public:
  H2Downstream(const H2StreamLink& link, H2Stream& stream, const http::RequestHead& head,
               std::uint64_t request_started_ms);

  Task<BodyPiece> read_body() override;
  bool body_read() const override { return body_read_; }
  Task<bool> send_interim(const http::OutgoingResponse& res) override;
  HeadSent queue_head(const http::OutgoingResponse& res) override;
  Task<bool> send_body(std::string_view data, bool end) override;
  Task<bool> send_trailers(std::span<const http::HeaderField> trailers) override;
  void reset() override;
  Task<void> tunnel(ByteStream& server, std::string_view server_pending,
                    std::span<char> server_buffer, std::uint64_t write_timeout_ms) override;
  const SocketAddress& client_address() const override { return link_.client; }
  bool is_secure() const override { return link_.secure; }
  std::string_view client_certificate_subject() const override { return link_.client_subject; }
  bool earlier_requests() const override { return false; }

 private:
  BodyPiece client_error(ErrorKind kind, const char* reason);
  bool trailers_over_limits() const;
  void give_back_delivered();

  const H2StreamLink& link_;
  H2Stream& s_;
  BodyPace pace_;
  bool expect_continue_;
  bool answering_head_;
  bool first_read_ = true;
  bool body_read_ = false;
  bool has_body_ = false;  // the response head said DATA follows
  std::uint64_t body_bytes_ = 0;
};

// Sends a whole response of our own on stream `s` (errors, respond and
// redirect routes): its head, then `body` unless the request was a HEAD.
// False: the stream went away.
Task<bool> send_h2_local(const H2StreamLink& link, H2Stream& s, const http::OutgoingResponse& res,
                         std::string_view body, bool head_request);

}  // namespace sluice::proxy
