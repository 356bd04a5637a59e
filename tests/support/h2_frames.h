// A client-side HTTP/2 toolkit for tests (RFC 9113): frame writers that put
// exactly the bytes a test asks for on the wire (malformed on purpose when
// it asks), a reader that splits received bytes into frames, HPACK through
// nghttp2's deflater and inflater (RFC 7541), and H2Connection, a blocking
// client over a loopback socket (plain, or TLS with ALPN "h2") whose reads
// all end at a deadline. Independent of sluice's own codec, so a test is an
// oracle rather than a mirror.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test::h2 {

// The 24 bytes every HTTP/2 connection starts with (RFC 9113 §3.4).
inline constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
inline constexpr std::size_t kPrefaceSize = 24;
inline constexpr std::uint32_t kDefaultWindow = 65535;        // RFC 9113 §6.9.2
inline constexpr std::uint32_t kDefaultMaxFrameSize = 16384;  // RFC 9113 §4.2

enum class FrameType : std::uint8_t {
  data = 0x0,
  headers = 0x1,
  priority = 0x2,
  rst_stream = 0x3,
  settings = 0x4,
  push_promise = 0x5,
  ping = 0x6,
  goaway = 0x7,
  window_update = 0x8,
  continuation = 0x9,
};
const char* to_string(FrameType type);

namespace flags {
inline constexpr std::uint8_t end_stream = 0x1;
inline constexpr std::uint8_t ack = 0x1;
inline constexpr std::uint8_t end_headers = 0x4;
inline constexpr std::uint8_t padded = 0x8;
inline constexpr std::uint8_t priority = 0x20;
}  // namespace flags

// RFC 9113 §7.
enum class ErrorCode : std::uint32_t {
  no_error = 0x0,
  protocol_error = 0x1,
  internal_error = 0x2,
  flow_control_error = 0x3,
  settings_timeout = 0x4,
  stream_closed = 0x5,
  frame_size_error = 0x6,
  refused_stream = 0x7,
  cancel = 0x8,
  compression_error = 0x9,
  connect_error = 0xa,
  enhance_your_calm = 0xb,
  inadequate_security = 0xc,
  http_1_1_required = 0xd,
};
std::string to_string(ErrorCode code);

// RFC 9113 §6.5.2.
enum class Setting : std::uint16_t {
  header_table_size = 0x1,
  enable_push = 0x2,
  max_concurrent_streams = 0x3,
  initial_window_size = 0x4,
  max_frame_size = 0x5,
  max_header_list_size = 0x6,
};
using Settings = std::vector<std::pair<Setting, std::uint32_t>>;

// Header fields in order, names as given (a test may send upper case).
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Frame {
  FrameType type = FrameType::data;
  std::uint8_t flags = 0;
  std::uint32_t stream_id = 0;
  std::string payload;

  bool has(std::uint8_t flag) const { return (flags & flag) != 0; }
  // RST_STREAM and GOAWAY: the error code.
  ErrorCode error_code() const;
  // GOAWAY: the last stream id and the debug data.
  std::uint32_t last_stream_id() const;
  std::string debug_data() const;
  // WINDOW_UPDATE: the increment.
  std::uint32_t window_increment() const;
  // SETTINGS: the parameters, in order.
  Settings settings() const;
  // A one-line description for failure messages.
  std::string describe() const;
};

// ---- Writers: each returns the bytes of one frame (9-byte header + payload).
std::string frame(FrameType type, std::uint8_t flags, std::uint32_t stream_id,
                  const std::string& payload);
std::string settings_frame(const Settings& settings = {});
std::string settings_ack();
// `block`: an HPACK header block fragment (see HpackEncoder, or raw bytes).
std::string headers_frame(std::uint32_t stream_id, const std::string& block, bool end_stream,
                          bool end_headers = true);
std::string continuation_frame(std::uint32_t stream_id, const std::string& block, bool end_headers);
std::string data_frame(std::uint32_t stream_id, const std::string& data, bool end_stream);
std::string rst_stream_frame(std::uint32_t stream_id, ErrorCode code);
std::string ping_frame(const std::string& opaque8 = std::string(8, '\0'), bool ack = false);
std::string priority_frame(std::uint32_t stream_id, std::uint32_t depends_on, std::uint8_t weight,
                           bool exclusive = false);
std::string window_update_frame(std::uint32_t stream_id, std::uint32_t increment);
std::string goaway_frame(std::uint32_t last_stream_id, ErrorCode code,
                         const std::string& debug = "");

// ---- HPACK (RFC 7541) through nghttp2.
class HpackEncoder {
 public:
  HpackEncoder();
  ~HpackEncoder();
  HpackEncoder(const HpackEncoder&) = delete;
  HpackEncoder& operator=(const HpackEncoder&) = delete;
  // A header block for `fields`; names and values go as given. The
  // dynamic table is used as nghttp2 decides (a field repeated in one
  // block is sent once as a literal, then as one-byte indexed references).
  std::string encode(const Fields& fields);
  // Follows the peer's SETTINGS_HEADER_TABLE_SIZE.
  void set_max_table_size(std::uint32_t size);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class HpackDecoder {
 public:
  HpackDecoder();
  ~HpackDecoder();
  HpackDecoder(const HpackDecoder&) = delete;
  HpackDecoder& operator=(const HpackDecoder&) = delete;
  // The fields of a complete header block; nullopt if it does not decode.
  std::optional<Fields> decode(const std::string& block);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits a byte stream into frames. Frames larger than `max_frame_size`
// are still returned whole (the test decides whether that is an error).
class FrameReader {
 public:
  void feed(const char* data, std::size_t size) { in_.append(data, size); }
  std::optional<Frame> next();
  std::size_t buffered() const { return in_.size(); }

 private:
  std::string in_;
};

// ---- A client connection.

struct Goaway {
  std::uint32_t last_stream_id = 0;
  ErrorCode error_code = ErrorCode::no_error;
  std::string debug_data;
};

// What one stream received.
struct StreamResult {
  Fields headers;  // the response head, pseudo-fields included (":status")
  std::string body;
  Fields trailers;                    // a trailing HEADERS frame, if any
  std::optional<ErrorCode> reset;     // RST_STREAM from the server
  bool ended = false;                 // END_STREAM seen
  bool headers_ended_stream = false;  // END_STREAM was on the response HEADERS
  int data_frames = 0;
  std::vector<Fields> informational;  // 1xx heads

  int status() const;  // 0 when none
  // The first value of `name` in the response head; "" when absent.
  std::string field(const std::string& name) const;
  std::string trailer(const std::string& name) const;
  bool complete() const { return ended || reset.has_value(); }
};

struct H2ConnectionOptions {
  bool tls = false;
  std::string server_name = "localhost";  // SNI, with tls
  std::string ca_path;                    // with tls: verify against it ("" = no verification)
  std::vector<std::string> alpn = {"h2"};
  // Our SETTINGS, sent after the preface by handshake().
  Settings settings = {{Setting::enable_push, 0}, {Setting::initial_window_size, 1 << 20}};
  // Answer the server's SETTINGS with an ACK and its PINGs with a PING ACK.
  bool auto_ack = true;
  // Give back receive window as DATA arrives (off: the test controls it).
  bool auto_window_update = true;
  // Our connection receive window, raised by a WINDOW_UPDATE in handshake().
  std::uint32_t connection_window = 1 << 24;
};

class H2Connection {
 public:
  using Clock = std::chrono::steady_clock;
  explicit H2Connection(std::uint16_t port, H2ConnectionOptions options = {});
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // TCP (and TLS) established.
  bool connected() const;
  // With tls: the protocol ALPN agreed ("" when none).
  std::string alpn() const;
  // Sends the preface and our SETTINGS (and the connection WINDOW_UPDATE),
  // then reads until the server's SETTINGS has arrived. False when it does
  // not arrive in time or the first frame is not SETTINGS.
  bool handshake(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // The server's first SETTINGS frame (valid after handshake()).
  const Settings& server_settings() const { return server_settings_; }
  std::optional<std::uint32_t> server_setting(Setting id) const;
  // The first frame the server sent, and every frame received so far.
  const std::vector<Frame>& received() const { return received_; }
  std::size_t count_received(FrameType type, std::uint32_t stream_id) const;
  bool settings_acked() const { return settings_acked_; }

  // Raw bytes out; false when the peer stopped taking them (closed, or full
  // for longer than `timeout`).
  bool send(const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The next frame received (after the automatic replies), or nullopt on
  // timeout, close or a connection error.
  std::optional<Frame> read_frame(std::chrono::milliseconds timeout);

  // HPACK with this connection's encoder (keeps the dynamic table in step).
  std::string encode(const Fields& fields) { return encoder_.encode(fields); }
  std::uint32_t next_stream_id() const { return next_stream_id_; }
  // Takes the next client stream id (1, 3, 5, ...).
  std::uint32_t take_stream_id();

  // Opens a stream: HEADERS (split into CONTINUATION frames if the block is
  // larger than the server's max frame size). Returns its id (0 on failure).
  std::uint32_t open_stream(const Fields& fields, bool end_stream);
  // DATA on `stream_id`, within the server's flow-control windows and frame
  // size, waiting (reading frames) for WINDOW_UPDATE as needed.
  bool send_data(std::uint32_t stream_id, const std::string& data, bool end_stream,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool send_trailers(std::uint32_t stream_id, const Fields& fields);
  // Reads frames until the stream ends (END_STREAM or RST_STREAM), the
  // connection ends, or the timeout passes; returns what it got so far.
  StreamResult wait_stream(std::uint32_t stream_id,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
  const StreamResult& stream(std::uint32_t stream_id) { return streams_[stream_id]; }

  // One exchange: `fields` (the pseudo-fields included), then `body` if any.
  StreamResult request(const Fields& fields, const std::string& body = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Reads until a GOAWAY arrives (or one already has); nullopt on timeout
  // or a close without one. goaway(): the latest GOAWAY received (a
  // graceful server may send a second one with a lower last-stream-id).
  std::optional<Goaway> wait_goaway(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  const std::optional<Goaway>& goaway() const { return goaway_; }
  // Reads (and keeps) frames until the server closes the connection; true
  // if it does within the timeout.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool closed() const { return closed_; }
  // Receive window to give back on stream 0 / a stream (for tests that turn
  // auto_window_update off).
  bool window_update(std::uint32_t stream_id, std::uint32_t increment);

 private:
  struct Transport;
  // One read from the socket into reader_; false on EOF, error or timeout.
  bool fill(Clock::time_point deadline);
  void dispatch(const Frame& f);
  void on_header_block(std::uint32_t stream_id, bool end_stream, const std::string& block);

  H2ConnectionOptions options_;
  std::unique_ptr<Transport> transport_;
  FrameReader reader_;
  HpackEncoder encoder_;
  HpackDecoder decoder_;
  std::vector<Frame> received_;
  Settings server_settings_;
  bool got_server_settings_ = false;
  bool settings_acked_ = false;
  bool closed_ = false;
  std::optional<Goaway> goaway_;
  std::uint32_t next_stream_id_ = 1;
  std::map<std::uint32_t, StreamResult> streams_;
  // A header block being continued: its stream, END_STREAM, and bytes.
  std::uint32_t continuing_stream_ = 0;
  bool continuing_end_stream_ = false;
  std::string continuing_block_;
  // Send windows the server gives us (RFC 9113 §6.9).
  std::int64_t connection_send_window_ = kDefaultWindow;
  std::int64_t initial_send_window_ = kDefaultWindow;
  std::map<std::uint32_t, std::int64_t> stream_send_windows_;
  std::uint32_t server_max_frame_size_ = kDefaultMaxFrameSize;
};

// Fields for a request: :method, :scheme, :authority, :path, then `extra`.
Fields request_fields(const std::string& method, const std::string& authority,
                      const std::string& path, const Fields& extra = {},
                      const std::string& scheme = "http");

}  // namespace sluice::test::h2
