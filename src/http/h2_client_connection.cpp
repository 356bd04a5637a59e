#include "http/h2_client_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "http/h2_body_source.h"
#include "http/h2_memory.h"
#include "http/token.h"

namespace sluice::http {
namespace {

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

std::uint8_t* bytes(std::string_view s) {
  return reinterpret_cast<std::uint8_t*>(const_cast<char*>(s.data()));
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return {bytes(name), bytes(value), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

// RFC 9113 §8.2.2: connection-specific fields have no place in HTTP/2 (a
// server treats a request carrying one as malformed); TE only as
// "trailers". Host goes as :authority (§8.3.1).
bool connection_specific(std::string_view name, std::string_view value) {
  for (std::string_view n :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}) {
    if (iequals(name, n)) return true;
  }
  return iequals(name, "te") && !iequals(value, "trailers");
}

}  // namespace

// nghttp2's callbacks, as friends of the connection.
struct H2ClientCallbacks {
  static H2ClientConnection& conn(void* user) { return *static_cast<H2ClientConnection*>(user); }

  static H2ClientStreamState* state_of(void* user, std::int32_t id) {
    auto& live = conn(user).live_;
    const auto it = live.find(id);
    return it == live.end() ? nullptr : it->second;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2ClientStreamState* s = state_of(user, frame->hd.stream_id);
    if (s == nullptr) return 0;
    // A new head (the first, or the one after an interim 1xx) starts from
    // nothing; after the final head a block is trailers.
    if (!s->head_done) {
      s->status = 0;
      s->fields.clear();
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* n,
                       std::size_t nlen, const std::uint8_t* v, std::size_t vlen,
                       std::uint8_t /*flags*/, void* user) {
    H2ClientStreamState* s = state_of(user, frame->hd.stream_id);
    if (s == nullptr) return 0;
    const H2ClientConnection& c = conn(user);
    const std::string_view name = view(n, nlen);
    const std::string_view value = view(v, vlen);
    const bool trailer = s->head_done;
    H2FieldList& list = trailer ? s->trailers : s->fields;
    // RFC 9113 §6.5.2 counting, as for requests: a server's HPACK bomb is
    // measured expanded, and past the limit nothing more is stored.
    if (s->too_large || list.list_size() + nlen + vlen + 32 > c.limits_.max_header_list_size ||
        list.count() >= c.limits_.max_header_fields) {
      s->too_large = true;
      return 0;
    }
    if (!trailer && name == ":status") {
      int status = 0;
      std::from_chars(value.data(), value.data() + value.size(), status);
      s->status = status;
      list.count_only(name, value);
      return 0;
    }
    if (!name.empty() && name.front() == ':') return 0;  // nghttp2 checked them
    list.add(name, value);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2ClientConnection& c = conn(user);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        H2ClientStreamState* s = state_of(user, frame->hd.stream_id);
        if (s == nullptr) return 0;
        const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (!s->head_done) {
          // RFC 9113 §8.1: 1xx heads may come first; they wait for the
          // proxy to pass them on (a 100 Continue is the proxy's to send:
          // the upstream drops those).
          if (s->status >= 100 && s->status < 200 && !end) {
            ++s->interim_heads;
            if (s->interim.size() < H2ClientStreamState::kMaxInterim && !s->too_large) {
              s->interim.push_back({s->status, std::move(s->fields)});
              c.handler_.on_head(*s);
            }
            s->fields.clear();
            s->too_large = false;
            return 0;
          }
          s->head_done = true;
          s->head_ended = end;
          s->ended = end;
          c.handler_.on_head(*s);
        } else {
          s->has_trailers = true;
          s->ended = true;
          c.handler_.on_body(*s);
        }
        return 0;
      }
      case NGHTTP2_DATA: {
        H2ClientStreamState* s = state_of(user, frame->hd.stream_id);
        if (s != nullptr && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
          s->ended = true;
          c.handler_.on_body(*s);
        }
        return 0;
      }
      case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) c.settings_received_ = true;
        return 0;
      case NGHTTP2_GOAWAY:
        // RFC 9113 §6.8: streams above last-stream-id were not processed;
        // nghttp2 closes them, and on_stream_close marks them.
        c.goaway_received_ = true;
        c.goaway_last_stream_id_ = frame->goaway.last_stream_id;
        c.goaway_error_code_ = frame->goaway.error_code;
        return 0;
      default:
        return 0;
    }
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t /*flags*/, std::int32_t id,
                           const std::uint8_t* data, std::size_t len, void* user) {
    H2ClientStreamState* s = state_of(user, id);
    if (s == nullptr) {
      // A stream nobody reads any more: its bytes open the connection's window.
      nghttp2_session_consume_connection(session, len);
      return 0;
    }
    s->body.append(view(data, len));
    conn(user).handler_.on_body(*s);
    return 0;
  }

  static int on_stream_close(nghttp2_session* session, std::int32_t id, std::uint32_t error_code,
                             void* user) {
    H2ClientStreamState* s = state_of(user, id);
    if (s == nullptr) return 0;
    nghttp2_session_set_stream_user_data(session, id, nullptr);
    conn(user).close_state(*s, error_code);
    return 0;
  }

  // A request nghttp2 held back (the server's concurrency limit) and then
  // could not send: a GOAWAY came meanwhile, so it never reached the server.
  static int on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int /*error*/,
                               void* user) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2ClientStreamState* s = state_of(user, frame->hd.stream_id);
    if (s == nullptr || s->head_done) return 0;
    s->not_processed = true;
    conn(user).close_state(*s, NGHTTP2_REFUSED_STREAM);
    return 0;
  }

  static ssize_t read_body(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                           void* user) {
    auto* s = static_cast<H2ClientStreamState*>(source->ptr);
    bool drained = false;
    const ssize_t n = take_body(session, id, buf, length, flags, *s, drained);
    if (drained) conn(user).handler_.on_output_taken(*s);
    return n;
  }
};

H2ClientConnection::H2ClientConnection(const H2ClientLimits& limits, Handler& handler)
    : handler_(handler), limits_(limits) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &H2ClientCallbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, &H2ClientCallbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &H2ClientCallbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &H2ClientCallbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &H2ClientCallbacks::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cb,
                                                           &H2ClientCallbacks::on_frame_not_send);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Windows open as the proxy hands bytes on (consume), not as they arrive.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, limits.assumed_max_concurrent_streams);
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_session_client_new3(&session_, cb, this, opt, h2_memory());
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);

  const std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                                  limits.max_header_list_size, UINT32_MAX))},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (limits.connection_window_size > 65'535) {
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(limits.connection_window_size));
  }
}

H2ClientConnection::~H2ClientConnection() {
  nghttp2_session_del(session_);
}

void H2ClientConnection::close_state(H2ClientStreamState& s, std::uint32_t error_code) {
  live_.erase(s.id);
  // RFC 9113 §8.7: a refused stream, or one above the GOAWAY's
  // last-stream-id, was not processed at all.
  if (error_code == NGHTTP2_REFUSED_STREAM || (goaway_received_ && s.id > goaway_last_stream_id_)) {
    s.not_processed = true;
  }
  s.closed = true;
  s.error_code = error_code;
  handler_.on_close(s, error_code);
}

bool H2ClientConnection::receive(std::string_view bytes) {
  const ssize_t r = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (r >= 0) return true;
  if (failure_ == nullptr) {
    failure_ = r == NGHTTP2_ERR_FLOODED ? "the server does not read what it asks for (flood)"
                                        : nghttp2_strerror(static_cast<int>(r));
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    goaway_sent_ = true;
  }
  return false;
}

void H2ClientConnection::take_output(std::string& out, std::size_t max) {
  while (out.size() < max) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) break;
    out.append(view(data, static_cast<std::size_t>(n)));
  }
}

bool H2ClientConnection::wants_read() const {
  return nghttp2_session_want_read(session_) != 0;
}

bool H2ClientConnection::wants_write() const {
  return nghttp2_session_want_write(session_) != 0;
}

std::uint32_t H2ClientConnection::peer_max_concurrent_streams() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

std::size_t H2ClientConnection::capacity() const {
  if (goaway_received_ || goaway_sent_ || failure_ != nullptr) return 0;
  const std::size_t max = peer_max_concurrent_streams();
  return max > live_.size() ? max - live_.size() : 0;
}

bool H2ClientConnection::submit_request(H2ClientStreamState& s, const H2Request& req) {
  if (goaway_received_ || goaway_sent_ || failure_ != nullptr) return false;
  // Most heads fit on the stack; nghttp2 copies names and values at
  // submission, so nothing here outlives the call.
  constexpr std::size_t kInline = 48;
  const std::size_t count = 4 + req.fields.size() + req.more_fields.size();
  std::array<nghttp2_nv, kInline> inline_nv;
  std::vector<nghttp2_nv> many;
  nghttp2_nv* list = inline_nv.data();
  if (count > kInline) {
    many.resize(count);
    list = many.data();
  }
  std::size_t n = 0;
  list[n++] = nv(":method", req.method);
  list[n++] = nv(":scheme", req.scheme);
  list[n++] = nv(":authority", req.authority);
  list[n++] = nv(":path", req.path);
  // RFC 9113 §8.2.1: field names in lower case. nghttp2 copies names and
  // values at submission, so one scratch string serves every name.
  lower_.clear();
  for (const auto* fields : {&req.fields, &req.more_fields}) {
    for (const auto& f : *fields)
      lower_.append(f.name);
  }
  std::transform(lower_.begin(), lower_.end(), lower_.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  std::size_t at = 0;
  for (const auto* fields : {&req.fields, &req.more_fields}) {
    for (const auto& f : *fields) {
      const std::string_view name(lower_.data() + at, f.name.size());
      at += f.name.size();
      if (connection_specific(name, f.value)) continue;
      list[n++] = nv(name, f.value);
    }
  }
  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  provider.read_callback = &H2ClientCallbacks::read_body;
  const std::int32_t id =
      nghttp2_submit_request(session_, nullptr, list, n, req.has_body ? &provider : nullptr, &s);
  if (id < 0) return false;
  s.id = id;
  live_[id] = &s;
  return true;
}

void H2ClientConnection::resume(H2ClientStreamState& s) {
  if (s.closed || !s.out_deferred) return;
  s.out_deferred = false;
  nghttp2_session_resume_data(session_, s.id);
}

void H2ClientConnection::consume(H2ClientStreamState& s, std::size_t n) {
  if (n == 0) return;
  if (s.closed) {
    nghttp2_session_consume_connection(session_, n);
    return;
  }
  nghttp2_session_consume(session_, s.id, n);
}

void H2ClientConnection::reset(H2ClientStreamState& s, std::uint32_t error_code) {
  if (s.closed) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, error_code);
}

void H2ClientConnection::goaway() {
  if (goaway_sent_) return;
  goaway_sent_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
}

}  // namespace sluice::http
