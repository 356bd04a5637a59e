// The server side of one HTTP/2 connection, sans I/O (RFC 9113), over
// nghttp2: bytes from the client go in (receive), frames to send come out
// (take_output), and what happens to each stream is told to a Handler.
// nghttp2 does the framing, HPACK, flow-control bookkeeping and the checks
// of RFC 9113 §8 (pseudo-header fields, connection-specific fields, TE,
// content-length against DATA); this class adds what a proxy facing
// hostile clients needs on top: the decoded header list bounded as
// §6.5.2 counts it (an HPACK bomb is measured after expansion), budgets
// for client resets (Rapid Reset, CVE-2023-44487) and control frames
// (SETTINGS, PING, PRIORITY, WINDOW_UPDATE and empty DATA floods), and
// receive windows that open only as the proxy hands bytes on, so a stream
// never buffers more than its window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/pooled_allocator.h"
#include "http/message.h"

struct nghttp2_session;

namespace sluice::http {

struct H2Limits {
  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t initial_window_size = 65'536;  // per stream, what we receive
  std::uint32_t connection_window_size = 1'048'576;
  std::uint32_t max_frame_size = 16'384;
  std::uint64_t max_header_list_size = 16 * 1024;  // RFC 9113 §6.5.2 counting
  std::uint32_t max_header_fields = 100;
  std::uint32_t max_continuations = 8;
  std::uint32_t reset_burst = 100;  // client RST_STREAMs
  std::uint32_t reset_per_second = 10;
  std::uint32_t control_burst = 1000;  // SETTINGS, PING, PRIORITY, WINDOW_UPDATE, empty DATA
  std::uint32_t control_per_second = 100;
  // WINDOW_UPDATEs a client may send per DATA frame it got before they
  // count as control frames: a client reading a long response opens its
  // windows as fast as it reads, which is no flood (Envoy's
  // max_inbound_window_update_frames_per_data_frame_sent, 10, is laxer).
  std::uint32_t window_updates_per_data_frame = 4;
};

// HTTP/2 error codes (RFC 9113 §7) the proxy names.
namespace h2_error {
constexpr std::uint32_t no_error = 0x0;
constexpr std::uint32_t protocol_error = 0x1;
constexpr std::uint32_t internal_error = 0x2;
constexpr std::uint32_t refused_stream = 0x7;
constexpr std::uint32_t cancel = 0x8;
constexpr std::uint32_t enhance_your_calm = 0xb;
}  // namespace h2_error

// A list of header fields stored back to back in one string.
class H2FieldList {
 public:
  void clear() {
    bytes_.clear();
    refs_.clear();
    views_.clear();
    list_size_ = 0;
  }
  void add(std::string_view name, std::string_view value);
  // Views of the fields; valid until the list changes.
  std::span<const HeaderField> fields();
  std::size_t count() const { return refs_.size(); }
  // name + value + 32 per field (RFC 9113 §6.5.2).
  std::uint64_t list_size() const { return list_size_; }
  void count_only(std::string_view name, std::string_view value) {
    list_size_ += name.size() + value.size() + 32;
  }

 private:
  struct Ref {
    std::uint32_t name_at, name_len, value_at, value_len;
  };
  // A request's fields come and go with it: their blocks from the pooled
  // lists, not malloc.
  std::basic_string<char, std::char_traits<char>, PooledAllocator<char>> bytes_;
  std::vector<Ref, PooledAllocator<Ref>> refs_;
  std::vector<HeaderField, PooledAllocator<HeaderField>> views_;
  std::uint64_t list_size_ = 0;
};

// One stream as the codec sees it. The proxy owns it (it embeds one in its
// stream object) and keeps it alive until Handler::on_close.
struct H2StreamState {
  std::int32_t id = 0;
  void* user = nullptr;  // the proxy's stream object

  // The request head. Pseudo-header fields apart; `fields` holds the
  // others in order, cookie crumbs joined into one (RFC 9113 §8.2.3).
  std::string method, scheme, authority, path;
  H2FieldList fields;
  std::string cookie;
  bool too_large = false;     // the header list went over the limit: answer 431
  bool head_done = false;     // END_HEADERS of the request head came
  bool ended = false;         // END_STREAM came: no more body
  bool has_trailers = false;  // the request ended with trailer fields, in `trailers`
  H2FieldList trailers;

  // Request body bytes received and not yet handed on; the window opens
  // as consume() is called.
  std::string body;

  // The response body the proxy offers: taken into DATA frames as the
  // client's window allows. `out_end`: nothing follows `out` (then
  // `out_trailers`, when set, go in a trailing HEADERS frame).
  std::string_view out;
  bool out_end = false;
  bool out_deferred = false;  // the codec waits for more of `out`
  bool out_done = false;      // the end of the body (and trailers) went into frames
  H2FieldList out_trailers;
  bool send_trailers = false;
  bool closed = false;  // the codec is done with it (on_close ran)
};

class H2ServerConnection {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // A request's HEADERS begin on stream `id`: the state its fields go
    // into; null refuses the stream (REFUSED_STREAM).
    virtual H2StreamState* open_stream(std::int32_t id) = 0;
    // The request head is complete (head_done; too_large when refused).
    virtual void on_request(H2StreamState& s) = 0;
    // Body bytes, the end of the stream, or trailers came.
    virtual void on_body(H2StreamState& s) = 0;
    // `out` was taken in full into frames.
    virtual void on_output_taken(H2StreamState& s) = 0;
    // The stream is closed: nghttp2 forgets it after this. `error_code`:
    // 0 for a clean end, else the reset's code (either side).
    virtual void on_close(H2StreamState& s, std::uint32_t error_code) = 0;
  };

  H2ServerConnection(const H2Limits& limits, Handler& handler);
  ~H2ServerConnection();
  H2ServerConnection(const H2ServerConnection&) = delete;
  H2ServerConnection& operator=(const H2ServerConnection&) = delete;

  // Feeds bytes from the client (the connection preface first). False: a
  // connection error; a GOAWAY is queued (send what is pending, then
  // close), and failure() says why.
  bool receive(std::string_view bytes, std::uint64_t now_ms);
  // Appends frames to send to `out`, at most about `max` bytes.
  void take_output(std::string& out, std::size_t max);
  // The connection may still read or write (false after a GOAWAY both ways).
  bool wants_read() const;
  bool wants_write() const;
  const char* failure() const { return failure_; }

  // A response head on stream `s`.
  struct Head {
    int status = 200;
    std::span<const HeaderField> fields;
    std::span<const HeaderField> more_fields;  // after `fields` (the listener's)
    std::int64_t content_length = -1;          // >= 0: a content-length field is added
    bool has_body = false;                     // DATA follows from s.out, else HEADERS ends it
    bool interim = false;                      // a 1xx
  };
  bool submit_head(H2StreamState& s, const Head& head);
  // s.out (or out_end) changed: offer it again.
  void resume(H2StreamState& s);
  // `n` request body bytes were handed on: the client may send as many more.
  void consume(H2StreamState& s, std::size_t n);
  void reset(H2StreamState& s, std::uint32_t error_code);
  // A GOAWAY: NO_ERROR with the last stream taken in (graceful: streams in
  // flight finish), or an error code (the connection ends).
  void goaway(std::uint32_t error_code);
  bool goaway_sent() const { return goaway_sent_; }
  std::size_t open_streams() const { return open_streams_; }

 private:
  struct Budget {
    double tokens;
    std::uint32_t burst;
    std::uint32_t per_second;
    std::uint64_t last_ms = 0;
    bool take(std::uint64_t now_ms);
  };
  friend struct H2Callbacks;
  bool take_control_token();
  bool take_window_update_token();
  bool take_reset_token();
  void calm_down(const char* why);
  void advertise_stream_limit(char* frames, std::size_t size) const;
  static constexpr std::uint32_t kUnreachedStreams = 0x7fffffff;

  nghttp2_session* session_ = nullptr;
  Handler& handler_;
  H2Limits limits_;
  Budget resets_;
  Budget control_;
  std::uint64_t window_update_credit_ = 0;  // earned by DATA frames sent
  std::uint64_t now_ms_ = 0;
  std::size_t open_streams_ = 0;
  std::uint64_t block_bytes_ = 0;  // wire bytes of the header block being read
  const char* failure_ = nullptr;
  bool goaway_sent_ = false;
  bool settings_sent_ = false;
  std::string lower_;  // response field names in lower case (RFC 9113 §8.2.1)
};

}  // namespace sluice::http
