#include "http/h2_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "http/h2_body_source.h"
#include "http/h2_memory.h"

namespace sluice::http {

void H2FieldList::add(std::string_view name, std::string_view value) {
  if (refs_.empty()) {
    // One allocation each for a typical request's fields, not a series.
    bytes_.reserve(512);
    refs_.reserve(16);
  }
  count_only(name, value);
  const auto at = static_cast<std::uint32_t>(bytes_.size());
  bytes_.append(name).append(value);
  refs_.push_back({at, static_cast<std::uint32_t>(name.size()),
                   at + static_cast<std::uint32_t>(name.size()),
                   static_cast<std::uint32_t>(value.size())});
  views_.clear();
}

std::span<const HeaderField> H2FieldList::fields() {
  if (views_.size() != refs_.size()) {
    views_.clear();
    views_.reserve(refs_.size());
    const std::string_view all(bytes_);
    for (const Ref& r : refs_) {
      views_.push_back({all.substr(r.name_at, r.name_len), all.substr(r.value_at, r.value_len)});
    }
  }
  return views_;
}

bool H2ServerConnection::Budget::take(std::uint64_t now_ms) {
  if (now_ms > last_ms) {
    tokens = std::min<double>(burst,
                              tokens + static_cast<double>(now_ms - last_ms) * per_second / 1000.0);
    last_ms = now_ms;
  }
  if (tokens < 1.0) return false;
  tokens -= 1.0;
  return true;
}

namespace {

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

H2StreamState* state_of(nghttp2_session* session, std::int32_t id) {
  return static_cast<H2StreamState*>(nghttp2_session_get_stream_user_data(session, id));
}

}  // namespace

// nghttp2's callbacks, as friends of the connection.
struct H2Callbacks {
  static H2ServerConnection& conn(void* user) { return *static_cast<H2ServerConnection*>(user); }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    H2ServerConnection& c = conn(user);
    // RFC 9113 §5.1.2: a stream over our limit is a stream error
    // (REFUSED_STREAM), never the connection's. It costs the client a
    // token of its reset budget, as a reset of its own would.
    H2StreamState* s = nullptr;
    if (c.open_streams_ >= c.limits_.max_concurrent_streams) {
      if (!c.take_reset_token()) return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else {
      s = c.handler_.open_stream(frame->hd.stream_id);
    }
    if (s == nullptr) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_REFUSED_STREAM);
      return 0;  // no state: its fields and frames are ignored
    }
    s->id = frame->hd.stream_id;
    ++c.open_streams_;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s);
    return 0;
  }

  // A header block is bounded on the wire too: twice the decoded limit
  // (HPACK rarely doubles anything), so a block that can only be refused
  // is not read to its end (CONTINUATION flood).
  static int on_begin_frame(nghttp2_session* /*session*/, const nghttp2_frame_hd* hd, void* user) {
    H2ServerConnection& c = conn(user);
    if (hd->type == NGHTTP2_HEADERS) {
      c.block_bytes_ = hd->length;
    } else if (hd->type == NGHTTP2_CONTINUATION) {
      c.block_bytes_ += hd->length;
    } else {
      return 0;
    }
    if (c.block_bytes_ > 2 * c.limits_.max_header_list_size) {
      c.calm_down("a header block larger than twice max_header_list_size (CONTINUATION flood)");
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame, const std::uint8_t* n,
                       std::size_t nlen, const std::uint8_t* v, std::size_t vlen,
                       std::uint8_t /*flags*/, void* user) {
    H2StreamState* s = state_of(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    H2ServerConnection& c = conn(user);
    const std::string_view name = view(n, nlen);
    const std::string_view value = view(v, vlen);
    const bool trailer = s->head_done;
    H2FieldList& list = trailer ? s->trailers : s->fields;
    // RFC 9113 §6.5.2: the limit counts the decoded list, so an HPACK
    // bomb (one large entry referenced many times) is measured expanded.
    // Past the limit fields are counted, never stored: the answer is 431.
    if (s->too_large || list.list_size() + nlen + vlen + 32 > c.limits_.max_header_list_size ||
        list.count() >= c.limits_.max_header_fields) {
      s->too_large = true;
      return 0;
    }
    if (!trailer && !name.empty() && name.front() == ':') {
      if (name == ":method") {
        s->method.assign(value);
      } else if (name == ":scheme") {
        s->scheme.assign(value);
      } else if (name == ":authority") {
        s->authority.assign(value);
      } else if (name == ":path") {
        s->path.assign(value);
      }
      list.count_only(name, value);
      return 0;
    }
    if (!trailer && name == "cookie") {
      // RFC 9113 §8.2.3: crumbs are joined with "; " for HTTP/1.1.
      if (!s->cookie.empty()) s->cookie.append("; ");
      s->cookie.append(value);
      list.count_only(name, value);
      return 0;
    }
    list.add(name, value);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    H2ServerConnection& c = conn(user);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        H2StreamState* s = state_of(session, frame->hd.stream_id);
        if (s == nullptr) return 0;
        const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (!s->head_done) {
          s->head_done = true;
          s->ended = end;
          c.handler_.on_request(*s);
        } else {
          s->has_trailers = true;
          s->ended = true;
          c.handler_.on_body(*s);
        }
        return 0;
      }
      case NGHTTP2_DATA: {
        if (frame->hd.length == 0 && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0 &&
            !c.take_control_token()) {
          return NGHTTP2_ERR_CALLBACK_FAILURE;  // a flood of empty DATA frames
        }
        H2StreamState* s = state_of(session, frame->hd.stream_id);
        if (s != nullptr && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
          s->ended = true;
          c.handler_.on_body(*s);
        }
        return 0;
      }
      case NGHTTP2_RST_STREAM:
        if (!c.take_reset_token()) return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
      case NGHTTP2_SETTINGS:
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) return 0;
        [[fallthrough]];
      case NGHTTP2_PRIORITY:
        if (!c.take_control_token()) return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
      case NGHTTP2_WINDOW_UPDATE:
        if (!c.take_window_update_token()) return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
      default:
        return 0;
    }
  }

  // DATA frames sent earn the client WINDOW_UPDATEs that are not counted
  // as control frames (bounded, so a long download banks no flood).
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_DATA) return 0;
    H2ServerConnection& c = conn(user);
    const std::uint64_t cap =
        std::uint64_t{c.limits_.control_burst} * c.limits_.window_updates_per_data_frame;
    c.window_update_credit_ =
        std::min(c.window_update_credit_ + c.limits_.window_updates_per_data_frame, cap);
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t /*flags*/, std::int32_t id,
                           const std::uint8_t* data, std::size_t len, void* user) {
    H2StreamState* s = state_of(session, id);
    if (s == nullptr) {
      // A stream we no longer serve: its bytes open the connection's window.
      nghttp2_session_consume_connection(session, len);
      return 0;
    }
    s->body.append(view(data, len));
    conn(user).handler_.on_body(*s);
    return 0;
  }

  static int on_stream_close(nghttp2_session* session, std::int32_t id, std::uint32_t error_code,
                             void* user) {
    H2StreamState* s = state_of(session, id);
    if (s == nullptr) return 0;
    H2ServerConnection& c = conn(user);
    nghttp2_session_set_stream_user_data(session, id, nullptr);
    --c.open_streams_;
    s->closed = true;
    c.handler_.on_close(*s, error_code);
    return 0;
  }

  static ssize_t read_body(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void* user) {
    auto* s = static_cast<H2StreamState*>(source->ptr);
    bool drained = false;
    const ssize_t n = take_body(session, id, buf, length, flags, *s, drained);
    if (drained) conn(user).handler_.on_output_taken(*s);
    return n;
  }
};

H2ServerConnection::H2ServerConnection(const H2Limits& limits, Handler& handler)
    : handler_(handler),
      limits_(limits),
      resets_{static_cast<double>(limits.reset_burst), limits.reset_burst, limits.reset_per_second},
      control_{static_cast<double>(limits.control_burst), limits.control_burst,
               limits.control_per_second} {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &H2Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &H2Callbacks::on_begin_frame);
  nghttp2_session_callbacks_set_on_header_callback(cb, &H2Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &H2Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &H2Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &H2Callbacks::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, &H2Callbacks::on_frame_send);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Windows open as the proxy hands bytes on (consume), not as they arrive.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_continuations(opt, limits.max_continuations);
  // Our own reset budget answers with ENHANCE_YOUR_CALM first; nghttp2's
  // stays as a backstop.
  nghttp2_option_set_stream_reset_rate_limit(opt, std::uint64_t{limits.reset_burst} * 2 + 100,
                                             std::uint64_t{limits.reset_per_second} * 2 + 10);
  nghttp2_option_set_max_settings(opt, 32);
  // RFC 9113 §5.3.2 deprecated the priority tree; closed streams kept for
  // it would cost every connection memory for nothing.
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_session_server_new3(&session_, cb, this, opt, h2_memory());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);

  // nghttp2 makes a stream over an acknowledged MAX_CONCURRENT_STREAMS a
  // connection error, which RFC 9113 §5.1.2 does not allow (every stream
  // in flight would die with it). So nghttp2 is told a limit it never
  // reaches, the client is told ours (take_output writes it into the
  // SETTINGS frame), and on_begin_headers refuses the streams above it.
  const std::array<nghttp2_settings_entry, 5> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kUnreachedStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, limits.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                                  limits.max_header_list_size, UINT32_MAX))},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (limits.connection_window_size > 65'535) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(limits.connection_window_size));
  }
}

H2ServerConnection::~H2ServerConnection() {
  nghttp2_session_del(session_);
}

bool H2ServerConnection::take_window_update_token() {
  if (window_update_credit_ > 0) {
    --window_update_credit_;
    return true;
  }
  return take_control_token();
}

bool H2ServerConnection::take_control_token() {
  if (control_.take(now_ms_)) return true;
  calm_down("too many control frames (SETTINGS, PING, PRIORITY, WINDOW_UPDATE, empty DATA)");
  return false;
}

bool H2ServerConnection::take_reset_token() {
  if (resets_.take(now_ms_)) return true;
  calm_down("too many stream resets (Rapid Reset)");
  return false;
}

void H2ServerConnection::calm_down(const char* why) {
  failure_ = why;
  nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  goaway_sent_ = true;
}

bool H2ServerConnection::receive(std::string_view bytes, std::uint64_t now_ms) {
  now_ms_ = now_ms;
  const ssize_t r = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (r >= 0) return true;
  if (failure_ == nullptr) {
    switch (r) {
      case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
        calm_down("too many CONTINUATION frames in one header block");
        break;
      case NGHTTP2_ERR_FLOODED:
        calm_down("the client does not read what it asks for (flood)");
        break;
      case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
        failure_ = "not an HTTP/2 connection preface";
        break;
      default:
        failure_ = nghttp2_strerror(static_cast<int>(r));
        nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
        goaway_sent_ = true;
        break;
    }
  }
  return false;
}

void H2ServerConnection::take_output(std::string& out, std::size_t max) {
  const std::size_t first = out.size();
  while (out.size() < max) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) break;
    out.append(view(data, static_cast<std::size_t>(n)));
  }
  if (!settings_sent_ && out.size() > first) {
    settings_sent_ = true;
    advertise_stream_limit(out.data() + first, out.size() - first);
  }
}

// Our first frame is the SETTINGS submitted in the constructor: its
// MAX_CONCURRENT_STREAMS entry gets the configured limit (see there).
void H2ServerConnection::advertise_stream_limit(char* frames, std::size_t size) const {
  constexpr std::size_t kHeader = 9;
  constexpr std::size_t kEntry = 6;
  if (size < kHeader || frames[3] != NGHTTP2_SETTINGS) return;
  const std::size_t length =
      (static_cast<std::size_t>(static_cast<std::uint8_t>(frames[0])) << 16) |
      (static_cast<std::size_t>(static_cast<std::uint8_t>(frames[1])) << 8) |
      static_cast<std::uint8_t>(frames[2]);
  for (std::size_t at = kHeader; at + kEntry <= kHeader + length && at + kEntry <= size;
       at += kEntry) {
    auto* e = reinterpret_cast<unsigned char*>(frames + at);
    if (((e[0] << 8) | e[1]) != NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) continue;
    const std::uint32_t v = limits_.max_concurrent_streams;
    e[2] = static_cast<unsigned char>(v >> 24);
    e[3] = static_cast<unsigned char>(v >> 16);
    e[4] = static_cast<unsigned char>(v >> 8);
    e[5] = static_cast<unsigned char>(v);
  }
}

bool H2ServerConnection::wants_read() const {
  return nghttp2_session_want_read(session_) != 0;
}
bool H2ServerConnection::wants_write() const {
  return nghttp2_session_want_write(session_) != 0;
}

bool H2ServerConnection::submit_head(H2StreamState& s, const Head& head) {
  // Most heads fit on the stack; nghttp2 copies names and values at
  // submission, so nothing here outlives the call.
  constexpr std::size_t kInline = 48;
  const std::size_t count = 2 + head.fields.size() + head.more_fields.size();
  std::array<nghttp2_nv, kInline> inline_nv;
  std::vector<nghttp2_nv> many;
  nghttp2_nv* nv = inline_nv.data();
  if (count > kInline) {
    many.resize(count);
    nv = many.data();
  }
  std::size_t n = 0;
  const auto add = [&](std::string_view name, std::string_view value) {
    nv[n++] = {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
               reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
               value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  char status[4] = {static_cast<char>('0' + head.status / 100 % 10),
                    static_cast<char>('0' + head.status / 10 % 10),
                    static_cast<char>('0' + head.status % 10), 0};
  add(":status", std::string_view(status, 3));
  // RFC 9113 §8.2.1: field names in lower case, in one scratch string.
  lower_.clear();
  for (const auto* list : {&head.fields, &head.more_fields}) {
    for (const auto& f : *list)
      lower_.append(f.name);
  }
  std::transform(lower_.begin(), lower_.end(), lower_.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  std::size_t at = 0;
  for (const auto* list : {&head.fields, &head.more_fields}) {
    for (const auto& f : *list) {
      add(std::string_view(lower_).substr(at, f.name.size()), f.value);
      at += f.name.size();
    }
  }
  char length[24];
  if (head.content_length >= 0) {
    const auto r = std::to_chars(length, length + sizeof length, head.content_length);
    add("content-length", std::string_view(length, static_cast<std::size_t>(r.ptr - length)));
  }
  if (head.interim) {
    return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, s.id, nullptr, nv, n, nullptr) == 0;
  }
  if (!head.has_body) return nghttp2_submit_response(session_, s.id, nv, n, nullptr) == 0;
  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  provider.read_callback = &H2Callbacks::read_body;
  return nghttp2_submit_response(session_, s.id, nv, n, &provider) == 0;
}

void H2ServerConnection::resume(H2StreamState& s) {
  if (s.closed || !s.out_deferred) return;
  s.out_deferred = false;
  nghttp2_session_resume_data(session_, s.id);
}

void H2ServerConnection::consume(H2StreamState& s, std::size_t n) {
  if (n == 0) return;
  if (s.closed) {
    nghttp2_session_consume_connection(session_, n);
    return;
  }
  nghttp2_session_consume(session_, s.id, n);
}

void H2ServerConnection::reset(H2StreamState& s, std::uint32_t error_code) {
  if (s.closed) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, error_code);
}

void H2ServerConnection::goaway(std::uint32_t error_code) {
  if (goaway_sent_) return;
  goaway_sent_ = true;
  if (error_code == h2_error::no_error) {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    return;
  }
  nghttp2_session_terminate_session(session_, error_code);
}

}  // namespace sluice::http
