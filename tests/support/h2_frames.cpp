#include "support/h2_frames.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace sluice::test::h2 {
namespace {

void put32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xff);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

std::uint32_t get32(const std::string& s, std::size_t at) {
  if (s.size() < at + 4) return 0;
  const auto b = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i]));
  };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

const char* to_string(FrameType type) {
  switch (type) {
    case FrameType::data:
      return "DATA";
    case FrameType::headers:
      return "HEADERS";
    case FrameType::priority:
      return "PRIORITY";
    case FrameType::rst_stream:
      return "RST_STREAM";
    case FrameType::settings:
      return "SETTINGS";
    case FrameType::push_promise:
      return "PUSH_PROMISE";
    case FrameType::ping:
      return "PING";
    case FrameType::goaway:
      return "GOAWAY";
    case FrameType::window_update:
      return "WINDOW_UPDATE";
    case FrameType::continuation:
      return "CONTINUATION";
  }
  return "UNKNOWN";
}

std::string to_string(ErrorCode code) {
  static const char* const names[] = {"NO_ERROR",
                                      "PROTOCOL_ERROR",
                                      "INTERNAL_ERROR",
                                      "FLOW_CONTROL_ERROR",
                                      "SETTINGS_TIMEOUT",
                                      "STREAM_CLOSED",
                                      "FRAME_SIZE_ERROR",
                                      "REFUSED_STREAM",
                                      "CANCEL",
                                      "COMPRESSION_ERROR",
                                      "CONNECT_ERROR",
                                      "ENHANCE_YOUR_CALM",
                                      "INADEQUATE_SECURITY",
                                      "HTTP_1_1_REQUIRED"};
  const auto v = static_cast<std::uint32_t>(code);
  if (v < std::size(names)) return names[v];
  return "error 0x" + [&] {
    std::ostringstream s;
    s << std::hex << v;
    return s.str();
  }();
}

// ---- Frame ----

ErrorCode Frame::error_code() const {
  if (type == FrameType::rst_stream) return static_cast<ErrorCode>(get32(payload, 0));
  if (type == FrameType::goaway) return static_cast<ErrorCode>(get32(payload, 4));
  return ErrorCode::no_error;
}

std::uint32_t Frame::last_stream_id() const {
  return get32(payload, 0) & 0x7fffffffu;
}

std::string Frame::debug_data() const {
  return payload.size() > 8 ? payload.substr(8) : "";
}

std::uint32_t Frame::window_increment() const {
  return get32(payload, 0) & 0x7fffffffu;
}

Settings Frame::settings() const {
  Settings out;
  for (std::size_t at = 0; at + 6 <= payload.size(); at += 6) {
    const auto id = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[at]) << 8) |
                                               static_cast<unsigned char>(payload[at + 1]));
    out.emplace_back(static_cast<Setting>(id), get32(payload, at + 2));
  }
  return out;
}

std::string Frame::describe() const {
  std::ostringstream s;
  s << to_string(type) << " stream=" << stream_id << " flags=0x" << std::hex << int(flags)
    << std::dec << " length=" << payload.size();
  if (type == FrameType::rst_stream) s << " " << to_string(error_code());
  if (type == FrameType::goaway)
    s << " last=" << last_stream_id() << " " << to_string(error_code()) << " debug=\""
      << debug_data() << "\"";
  if (type == FrameType::window_update) s << " increment=" << window_increment();
  if (type == FrameType::settings)
    for (const auto& [id, v] : settings())
      s << " " << static_cast<int>(id) << "=" << v;
  return s.str();
}

// ---- Writers ----

std::string frame(FrameType type, std::uint8_t flag_bits, std::uint32_t stream_id,
                  const std::string& payload) {
  std::string out;
  const auto n = static_cast<std::uint32_t>(payload.size());
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>(type);
  out += static_cast<char>(flag_bits);
  put32(out, stream_id & 0x7fffffffu);
  return out + payload;
}

std::string settings_frame(const Settings& settings) {
  std::string payload;
  for (const auto& [id, value] : settings) {
    payload += static_cast<char>((static_cast<std::uint16_t>(id) >> 8) & 0xff);
    payload += static_cast<char>(static_cast<std::uint16_t>(id) & 0xff);
    put32(payload, value);
  }
  return frame(FrameType::settings, 0, 0, payload);
}

std::string settings_ack() {
  return frame(FrameType::settings, flags::ack, 0, "");
}

std::string headers_frame(std::uint32_t stream_id, const std::string& block, bool end_stream,
                          bool end_headers) {
  const std::uint8_t f =
      (end_stream ? flags::end_stream : 0) | (end_headers ? flags::end_headers : 0);
  return frame(FrameType::headers, f, stream_id, block);
}

std::string continuation_frame(std::uint32_t stream_id, const std::string& block,
                               bool end_headers) {
  return frame(FrameType::continuation, end_headers ? flags::end_headers : 0, stream_id, block);
}

std::string data_frame(std::uint32_t stream_id, const std::string& data, bool end_stream) {
  return frame(FrameType::data, end_stream ? flags::end_stream : 0, stream_id, data);
}

std::string rst_stream_frame(std::uint32_t stream_id, ErrorCode code) {
  std::string payload;
  put32(payload, static_cast<std::uint32_t>(code));
  return frame(FrameType::rst_stream, 0, stream_id, payload);
}

std::string ping_frame(const std::string& opaque8, bool ack) {
  std::string payload = opaque8;
  payload.resize(8, '\0');
  return frame(FrameType::ping, ack ? flags::ack : 0, 0, payload);
}

std::string priority_frame(std::uint32_t stream_id, std::uint32_t depends_on, std::uint8_t weight,
                           bool exclusive) {
  std::string payload;
  put32(payload, (depends_on & 0x7fffffffu) | (exclusive ? 0x80000000u : 0));
  payload += static_cast<char>(weight);
  return frame(FrameType::priority, 0, stream_id, payload);
}

std::string window_update_frame(std::uint32_t stream_id, std::uint32_t increment) {
  std::string payload;
  put32(payload, increment & 0x7fffffffu);
  return frame(FrameType::window_update, 0, stream_id, payload);
}

std::string goaway_frame(std::uint32_t last_stream_id, ErrorCode code, const std::string& debug) {
  std::string payload;
  put32(payload, last_stream_id & 0x7fffffffu);
  put32(payload, static_cast<std::uint32_t>(code));
  return frame(FrameType::goaway, 0, 0, payload + debug);
}

// ---- HPACK ----

struct HpackEncoder::Impl {
  nghttp2_hd_deflater* deflater = nullptr;
};

HpackEncoder::HpackEncoder() : impl_(std::make_unique<Impl>()) {
  nghttp2_hd_deflate_new(&impl_->deflater, 4096);
}

HpackEncoder::~HpackEncoder() {
  nghttp2_hd_deflate_del(impl_->deflater);
}

std::string HpackEncoder::encode(const Fields& fields) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(fields.size());
  for (const auto& [name, value] : fields) {
    nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  std::string out(nghttp2_hd_deflate_bound(impl_->deflater, nva.data(), nva.size()), '\0');
  const auto n = nghttp2_hd_deflate_hd(impl_->deflater, reinterpret_cast<std::uint8_t*>(out.data()),
                                       out.size(), nva.data(), nva.size());
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

void HpackEncoder::set_max_table_size(std::uint32_t size) {
  nghttp2_hd_deflate_change_table_size(impl_->deflater, size);
}

struct HpackDecoder::Impl {
  nghttp2_hd_inflater* inflater = nullptr;
};

HpackDecoder::HpackDecoder() : impl_(std::make_unique<Impl>()) {
  nghttp2_hd_inflate_new(&impl_->inflater);
}

HpackDecoder::~HpackDecoder() {
  nghttp2_hd_inflate_del(impl_->inflater);
}

std::optional<Fields> HpackDecoder::decode(const std::string& block) {
  Fields out;
  const auto* in = reinterpret_cast<const std::uint8_t*>(block.data());
  std::size_t left = block.size();
  while (true) {
    nghttp2_nv nv;
    int inflate_flags = 0;
    const auto n = nghttp2_hd_inflate_hd2(impl_->inflater, &nv, &inflate_flags, in, left, 1);
    if (n < 0) return std::nullopt;
    in += n;
    left -= static_cast<std::size_t>(n);
    if (inflate_flags & NGHTTP2_HD_INFLATE_EMIT)
      out.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                       std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
    if (inflate_flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(impl_->inflater);
      break;
    }
    if ((inflate_flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) break;
  }
  return out;
}

// ---- FrameReader ----

std::optional<Frame> FrameReader::next() {
  if (in_.size() < 9) return std::nullopt;
  const auto u = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(in_[i]));
  };
  const std::uint32_t length = (u(0) << 16) | (u(1) << 8) | u(2);
  if (in_.size() < 9 + length) return std::nullopt;
  Frame f;
  f.type = static_cast<FrameType>(in_[3]);
  f.flags = static_cast<std::uint8_t>(in_[4]);
  f.stream_id = get32(in_, 5) & 0x7fffffffu;
  f.payload = in_.substr(9, length);
  in_.erase(0, 9 + length);
  return f;
}

// ---- StreamResult ----

int StreamResult::status() const {
  const std::string s = field(":status");
  return s.empty() ? 0 : std::atoi(s.c_str());
}

std::string StreamResult::field(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

std::string StreamResult::trailer(const std::string& name) const {
  for (const auto& [n, v] : trailers)
    if (n == name) return v;
  return "";
}

Fields request_fields(const std::string& method, const std::string& authority,
                      const std::string& path, const Fields& extra, const std::string& scheme) {
  Fields f = {{":method", method}, {":scheme", scheme}, {":authority", authority}, {":path", path}};
  f.insert(f.end(), extra.begin(), extra.end());
  return f;
}

// ---- Transport: a non-blocking socket, with TLS or without ----

struct H2Connection::Transport {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::string alpn;

  ~Transport() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }

  bool wait(short events, std::chrono::steady_clock::time_point deadline) const {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, remaining_ms(deadline)) > 0;
  }

  bool connect(std::uint16_t port, const H2ConnectionOptions& o,
               std::chrono::steady_clock::time_point deadline) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (!o.tls) return true;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return false;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (!o.ca_path.empty()) {
      SSL_CTX_load_verify_locations(ctx, o.ca_path.c_str(), nullptr);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    std::string wire;  // ALPN protocol list (RFC 7301 §3.1)
    for (const auto& p : o.alpn)
      wire += static_cast<char>(p.size()) + p;
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, o.server_name.c_str());
    if (!o.ca_path.empty()) SSL_set1_host(ssl, o.server_name.c_str());
    while (true) {
      const int r = SSL_connect(ssl);
      if (r == 1) break;
      const int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ && wait(POLLIN, deadline)) continue;
      if (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT, deadline)) continue;
      ERR_clear_error();
      return false;
    }
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    alpn.assign(reinterpret_cast<const char*>(proto), len);
    return true;
  }

  // >0: bytes written; 0: the deadline passed; <0: the peer is gone.
  bool write_all(const std::string& bytes, std::chrono::steady_clock::time_point deadline) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      if (ssl != nullptr) {
        const int n =
            SSL_write(ssl, bytes.data() + off,
                      static_cast<int>(std::min<std::size_t>(bytes.size() - off, 1 << 20)));
        if (n > 0) {
          off += static_cast<std::size_t>(n);
          continue;
        }
        const int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT, deadline)) continue;
        if (e == SSL_ERROR_WANT_READ && wait(POLLIN, deadline)) continue;
        ERR_clear_error();
        return false;
      }
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait(POLLOUT, deadline)) continue;
      return false;
    }
    return true;
  }

  // >0: bytes read; 0: the peer closed (or reset); -1: the deadline passed.
  ssize_t read_some(char* buf, std::size_t size, std::chrono::steady_clock::time_point deadline) {
    while (true) {
      if (ssl != nullptr) {
        const int n = SSL_read(ssl, buf, static_cast<int>(size));
        if (n > 0) return n;
        const int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
          if (!wait(POLLIN, deadline)) return -1;
          continue;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
          if (!wait(POLLOUT, deadline)) return -1;
          continue;
        }
        ERR_clear_error();
        return 0;
      }
      const ssize_t n = ::recv(fd, buf, size, 0);
      if (n > 0) return n;
      if (n == 0) return 0;
      if (errno == EAGAIN || errno == EINTR) {
        if (!wait(POLLIN, deadline)) return -1;
        continue;
      }
      return 0;  // ECONNRESET and the like: the peer is gone
    }
  }
};

// ---- H2Connection ----

H2Connection::H2Connection(std::uint16_t port, H2ConnectionOptions options)
    : options_(std::move(options)), transport_(std::make_unique<Transport>()) {
  // SSL_write writes with write(2): a peer that closed must not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  if (!transport_->connect(port, options_, Clock::now() + std::chrono::seconds(10))) {
    transport_.reset();
  }
}

H2Connection::~H2Connection() = default;

bool H2Connection::connected() const {
  return transport_ != nullptr;
}

std::string H2Connection::alpn() const {
  return transport_ ? transport_->alpn : "";
}

std::optional<std::uint32_t> H2Connection::server_setting(Setting id) const {
  std::optional<std::uint32_t> out;
  for (const auto& [k, v] : server_settings_)
    if (k == id) out = v;  // the last one wins (RFC 9113 §6.5)
  return out;
}

std::size_t H2Connection::count_received(FrameType type, std::uint32_t stream_id) const {
  return static_cast<std::size_t>(
      std::count_if(received_.begin(), received_.end(),
                    [&](const Frame& f) { return f.type == type && f.stream_id == stream_id; }));
}

bool H2Connection::send(const std::string& bytes, std::chrono::milliseconds timeout) {
  if (!transport_) return false;
  return transport_->write_all(bytes, Clock::now() + timeout);
}

bool H2Connection::handshake(std::chrono::milliseconds timeout) {
  std::string out(kPreface, kPrefaceSize);
  out += settings_frame(options_.settings);
  if (options_.connection_window > kDefaultWindow)
    out += window_update_frame(0, options_.connection_window - kDefaultWindow);
  if (!send(out)) return false;
  const auto deadline = Clock::now() + timeout;
  while (!got_server_settings_) {
    const auto f = read_frame(std::chrono::milliseconds(remaining_ms(deadline)));
    if (!f) return false;
    // RFC 9113 §3.4: the server's preface is a SETTINGS frame, first.
    if (received_.size() == 1 && f->type != FrameType::settings) return false;
  }
  return true;
}

bool H2Connection::fill(Clock::time_point deadline) {
  if (!transport_ || closed_) return false;
  char buf[65536];
  const ssize_t n = transport_->read_some(buf, sizeof buf, deadline);
  if (n == 0) closed_ = true;
  if (n <= 0) return false;
  reader_.feed(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<Frame> H2Connection::read_frame(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (auto f = reader_.next()) {
      received_.push_back(*f);
      dispatch(*f);
      return f;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

void H2Connection::dispatch(const Frame& f) {
  switch (f.type) {
    case FrameType::settings:
      if (f.has(flags::ack)) {
        settings_acked_ = true;
        break;
      }
      for (const auto& [id, value] : f.settings()) {
        if (id == Setting::initial_window_size) {
          // RFC 9113 §6.9.2: the change applies to every open stream.
          const std::int64_t delta = static_cast<std::int64_t>(value) - initial_send_window_;
          for (auto& [sid, w] : stream_send_windows_)
            w += delta;
          initial_send_window_ = value;
        } else if (id == Setting::max_frame_size) {
          server_max_frame_size_ = value;
        } else if (id == Setting::header_table_size) {
          encoder_.set_max_table_size(std::min<std::uint32_t>(value, 4096));
        }
      }
      if (!got_server_settings_) {
        server_settings_ = f.settings();
        got_server_settings_ = true;
      }
      if (options_.auto_ack) send(settings_ack());
      break;
    case FrameType::ping:
      if (!f.has(flags::ack) && options_.auto_ack) send(ping_frame(f.payload, true));
      break;
    case FrameType::window_update:
      if (f.stream_id == 0) {
        connection_send_window_ += f.window_increment();
      } else {
        auto it = stream_send_windows_.find(f.stream_id);
        if (it != stream_send_windows_.end()) it->second += f.window_increment();
      }
      break;
    case FrameType::goaway:
      goaway_ = Goaway{f.last_stream_id(), f.error_code(), f.debug_data()};
      break;
    case FrameType::rst_stream:
      streams_[f.stream_id].reset = f.error_code();
      break;
    case FrameType::data: {
      std::string data = f.payload;
      if (f.has(flags::padded) && !data.empty()) {
        const std::size_t pad = static_cast<unsigned char>(data[0]);
        data = data.size() > pad ? data.substr(1, data.size() - 1 - pad) : "";
      }
      auto& s = streams_[f.stream_id];
      s.body += data;
      ++s.data_frames;
      if (f.has(flags::end_stream)) s.ended = true;
      if (options_.auto_window_update && !f.payload.empty()) {
        const auto n = static_cast<std::uint32_t>(f.payload.size());
        std::string out = window_update_frame(0, n);
        if (!f.has(flags::end_stream)) out += window_update_frame(f.stream_id, n);
        send(out);
      }
      break;
    }
    case FrameType::headers: {
      std::string block = f.payload;
      std::size_t pad = 0;
      if (f.has(flags::padded) && !block.empty()) {
        pad = static_cast<unsigned char>(block[0]);
        block.erase(0, 1);
      }
      if (f.has(flags::priority)) block.erase(0, std::min<std::size_t>(5, block.size()));
      block.resize(block.size() > pad ? block.size() - pad : 0);
      if (f.has(flags::end_headers)) {
        on_header_block(f.stream_id, f.has(flags::end_stream), block);
      } else {
        continuing_stream_ = f.stream_id;
        continuing_end_stream_ = f.has(flags::end_stream);
        continuing_block_ = block;
      }
      break;
    }
    case FrameType::continuation:
      continuing_block_ += f.payload;
      if (f.has(flags::end_headers)) {
        on_header_block(continuing_stream_, continuing_end_stream_, continuing_block_);
        continuing_block_.clear();
      }
      break;
    default:
      break;
  }
}

void H2Connection::on_header_block(std::uint32_t stream_id, bool end_stream,
                                   const std::string& block) {
  // Every block is decoded, whatever its stream: the decoder's dynamic
  // table must follow the server's encoder (RFC 7541 §2.3.2).
  auto fields = decoder_.decode(block);
  auto& s = streams_[stream_id];
  if (!fields) {
    s.reset = ErrorCode::compression_error;  // ours: the block did not decode
    return;
  }
  const bool is_head = s.headers.empty();
  std::string status;
  for (const auto& [n, v] : *fields)
    if (n == ":status") status = v;
  if (is_head && status.size() == 3 && status[0] == '1') {
    s.informational.push_back(*fields);
  } else if (is_head) {
    s.headers = std::move(*fields);
    s.headers_ended_stream = end_stream;
  } else {
    s.trailers = std::move(*fields);
  }
  if (end_stream) s.ended = true;
}

std::uint32_t H2Connection::take_stream_id() {
  const std::uint32_t id = next_stream_id_;
  next_stream_id_ += 2;
  stream_send_windows_[id] = initial_send_window_;
  return id;
}

std::uint32_t H2Connection::open_stream(const Fields& fields, bool end_stream) {
  const std::uint32_t id = take_stream_id();
  const std::string block = encode(fields);
  const std::size_t max = server_max_frame_size_;
  std::string out;
  if (block.size() <= max) {
    out = headers_frame(id, block, end_stream, true);
  } else {
    out = headers_frame(id, block.substr(0, max), end_stream, false);
    for (std::size_t at = max; at < block.size(); at += max)
      out += continuation_frame(id, block.substr(at, max), at + max >= block.size());
  }
  streams_[id];
  return send(out) ? id : 0;
}

bool H2Connection::send_data(std::uint32_t stream_id, const std::string& data, bool end_stream,
                             std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t off = 0;
  do {
    auto& window = stream_send_windows_[stream_id];
    const std::int64_t can = std::min({connection_send_window_, window,
                                       static_cast<std::int64_t>(server_max_frame_size_),
                                       static_cast<std::int64_t>(data.size() - off)});
    if (can <= 0 && off < data.size()) {
      // Wait for the server to open a window; stop if the stream ended.
      if (streams_[stream_id].complete()) return false;
      if (!read_frame(std::chrono::milliseconds(remaining_ms(deadline)))) return false;
      continue;
    }
    const auto n = static_cast<std::size_t>(std::max<std::int64_t>(can, 0));
    const bool last = off + n == data.size();
    if (!send(data_frame(stream_id, data.substr(off, n), last && end_stream))) return false;
    connection_send_window_ -= static_cast<std::int64_t>(n);
    window -= static_cast<std::int64_t>(n);
    off += n;
  } while (off < data.size());
  return true;
}

bool H2Connection::send_trailers(std::uint32_t stream_id, const Fields& fields) {
  return send(headers_frame(stream_id, encode(fields), true, true));
}

StreamResult H2Connection::wait_stream(std::uint32_t stream_id, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!streams_[stream_id].complete()) {
    if (!read_frame(std::chrono::milliseconds(remaining_ms(deadline)))) break;
  }
  return streams_[stream_id];
}

StreamResult H2Connection::request(const Fields& fields, const std::string& body,
                                   std::chrono::milliseconds timeout) {
  const std::uint32_t id = open_stream(fields, body.empty());
  if (id == 0) return {};
  if (!body.empty() && !send_data(id, body, true, timeout)) return streams_[id];
  return wait_stream(id, timeout);
}

std::optional<Goaway> H2Connection::wait_goaway(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!goaway_) {
    if (!read_frame(std::chrono::milliseconds(remaining_ms(deadline)))) break;
  }
  return goaway_;
}

bool H2Connection::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_) {
    if (!read_frame(std::chrono::milliseconds(remaining_ms(deadline))) && Clock::now() >= deadline)
      break;
  }
  return closed_;
}

bool H2Connection::window_update(std::uint32_t stream_id, std::uint32_t increment) {
  return send(window_update_frame(stream_id, increment));
}

}  // namespace sluice::test::h2
