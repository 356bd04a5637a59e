// The client side of one HTTP/2 connection to a server, sans I/O (RFC 9113),
// over nghttp2: the proxy submits requests, frames to send come out
// (take_output), bytes from the server go in (receive), and what happens
// to each stream is told to a Handler. It mirrors the server side
// (h2_connection.h): the proxy owns each stream's state, a request body is
// offered as a view the codec takes into DATA frames as the server's
// windows allow, and the receive windows open only as the proxy hands the
// response bytes on (consume), so a stream never buffers more than its
// window however slowly the proxy's own client reads.
//
// It also keeps what the pool needs to know: how many more streams the
// server takes (its SETTINGS_MAX_CONCURRENT_STREAMS minus those open), and
// which streams the server never processed: those refused with
// REFUSED_STREAM and those above a GOAWAY's last-stream-id (RFC 9113 §8.7),
// which any request may be sent again for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/pooled_allocator.h"
#include "http/h2_connection.h"
#include "http/message.h"

struct nghttp2_session;

namespace sluice::http {

struct H2ClientLimits {
  std::uint32_t initial_window_size = 65'536;  // per stream, what we receive
  std::uint32_t connection_window_size = 1'048'576;
  std::uint64_t max_header_list_size = 64 * 1024;  // RFC 9113 §6.5.2 counting
  std::uint32_t max_header_fields = 200;
  // Assumed of the server until its SETTINGS say otherwise.
  std::uint32_t assumed_max_concurrent_streams = 100;
};

// One request stream as the codec sees it. The proxy owns it and keeps it
// alive until Handler::on_close.
struct H2ClientStreamState {
  std::int32_t id = 0;   // set by submit_request
  void* user = nullptr;  // the proxy's stream object

  // The request body the proxy offers: taken into DATA frames as the
  // server's windows allow. `out_end`: nothing follows `out` (then
  // `out_trailers`, when `send_trailers`, go in a trailing HEADERS frame).
  std::string_view out;
  bool out_end = false;
  bool out_deferred = false;  // the codec waits for more of `out`
  bool out_done = false;      // the end of the body (and trailers) went into frames
  H2FieldList out_trailers;
  bool send_trailers = false;

  // The final response head: `status` and the fields other than
  // pseudo-header fields, in order.
  int status = 0;
  H2FieldList fields;
  // Interim (1xx) heads received and not yet taken, oldest first
  // (RFC 9110 §15.2: a proxy forwards them); at most kMaxInterim wait,
  // beyond that they are dropped. `interim_heads` counts every one.
  struct InterimHead {
    int status = 0;
    H2FieldList fields;
  };
  static constexpr std::size_t kMaxInterim = 8;
  std::vector<InterimHead> interim;
  int interim_heads = 0;
  bool too_large = false;   // the head went over the limits: the response is refused
  bool head_done = false;   // the final head came
  bool head_ended = false;  // ... in a HEADERS frame that ended the stream: no body, no trailers
  bool ended = false;       // END_STREAM came: no more body
  bool has_trailers = false;
  H2FieldList trailers;
  // Response body bytes received and not yet handed on; the windows open
  // as consume() is called.
  std::string body;

  bool closed = false;  // the codec is done with it (on_close ran)
  std::uint32_t error_code = 0;
  // RFC 9113 §8.7: the server did not process the request (REFUSED_STREAM,
  // or a stream above a GOAWAY's last-stream-id): it may go again.
  bool not_processed = false;
};

// The request head of one stream, HTTP/2's way: pseudo-header fields
// apart; `fields` must hold no connection-specific field (the codec drops
// them anyway, RFC 9113 §8.2.2) and may be in any case (sent lower case).
struct H2Request {
  std::string_view method, scheme, authority, path;
  std::span<const HeaderField> fields;
  std::span<const HeaderField> more_fields;  // after `fields` (content-length, te)
  bool has_body = false;                     // DATA follows from the stream's `out`
};

class H2ClientConnection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // The final response head came (s.head_done; s.too_large when refused),
    // or an interim head waits in s.interim.
    virtual void on_head(H2ClientStreamState& s) = 0;
    // Body bytes, the end of the stream, or trailers came.
    virtual void on_body(H2ClientStreamState& s) = 0;
    // `out` was taken in full into frames.
    virtual void on_output_taken(H2ClientStreamState& s) = 0;
    // The stream is closed: the codec forgets it after this. `error_code`:
    // 0 for a clean end, else the reset's code (either side).
    virtual void on_close(H2ClientStreamState& s, std::uint32_t error_code) = 0;
  };

  H2ClientConnection(const H2ClientLimits& limits, Handler& handler);
  ~H2ClientConnection();
  H2ClientConnection(const H2ClientConnection&) = delete;
  H2ClientConnection& operator=(const H2ClientConnection&) = delete;

  // Feeds bytes from the server. False: a connection error; a GOAWAY is
  // queued (send what is pending, then close), and failure() says why.
  bool receive(std::string_view bytes);
  // Appends frames to send to `out` (the connection preface first), at
  // most about `max` bytes.
  void take_output(std::string& out, std::size_t max);
  bool wants_read() const;
  bool wants_write() const;
  const char* failure() const { return failure_; }

  // Opens a stream for `req` on `s`. False: the connection takes no new
  // stream (a GOAWAY either way, or nghttp2 refused the head).
  bool submit_request(H2ClientStreamState& s, const H2Request& req);
  // s.out (or out_end) changed: offer it again.
  void resume(H2ClientStreamState& s);
  // `n` response body bytes were handed on: the server may send as many more.
  void consume(H2ClientStreamState& s, std::size_t n);
  void reset(H2ClientStreamState& s, std::uint32_t error_code);
  // Our GOAWAY (NO_ERROR): streams in flight finish, no new ones.
  void goaway();

  // Streams opened and not yet closed.
  std::size_t open_streams() const { return live_.size(); }
  // The server's SETTINGS_MAX_CONCURRENT_STREAMS (assumed until it came).
  std::uint32_t peer_max_concurrent_streams() const;
  // How many more streams the server takes now; 0 after a GOAWAY.
  std::size_t capacity() const;
  // The server's first SETTINGS came: its limits are known.
  bool settings_received() const { return settings_received_; }
  bool goaway_received() const { return goaway_received_; }
  std::int32_t goaway_last_stream_id() const { return goaway_last_stream_id_; }
  std::uint32_t goaway_error_code() const { return goaway_error_code_; }
  bool goaway_sent() const { return goaway_sent_; }

 private:
  friend struct H2ClientCallbacks;
  void close_state(H2ClientStreamState& s, std::uint32_t error_code);

  nghttp2_session* session_ = nullptr;
  Handler& handler_;
  H2ClientLimits limits_;
  // Submitted and not yet closed, by stream id: a request nghttp2 still
  // holds back (the server's concurrency limit) has no nghttp2 stream yet.
  std::unordered_map<std::int32_t, H2ClientStreamState*, std::hash<std::int32_t>,
                     std::equal_to<std::int32_t>,
                     PooledAllocator<std::pair<const std::int32_t, H2ClientStreamState*>>>
      live_;
  const char* failure_ = nullptr;
  bool settings_received_ = false;
  bool goaway_received_ = false;
  std::int32_t goaway_last_stream_id_ = 0;
  std::uint32_t goaway_error_code_ = 0;
  bool goaway_sent_ = false;
  std::string lower_;  // request field names in lower case (RFC 9113 §8.2.1)
};

}  // namespace sluice::http
