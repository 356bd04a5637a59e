#include "support/h2_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <stdexcept>

namespace sluice::test {

struct H2TestServer::Conn {
  struct Stream {
    std::string method, path, body;
    std::size_t request = 0;  // index in requests_
    bool counted = false;     // counted as open
    bool complete = false;    // END_STREAM came
    bool answered = false;
    std::string answer;
    std::size_t sent = 0;
    const std::vector<std::pair<std::string, std::string>>* trailers = nullptr;
    bool deferred = false;  // the data source said NGHTTP2_ERR_DEFERRED
  };
  H2TestServer* server = nullptr;
  int fd = -1;
  int index = 0;
  nghttp2_session* session = nullptr;
  std::map<std::int32_t, Stream> streams;
  std::string out;
  int open = 0;
  bool goaway = false;  // sent GOAWAY(0): close once flushed
  bool dead = false;
  ~Conn() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) ::close(fd);
  }
};

struct H2TestServerCallbacks {
  // The session's user data: the connection, which knows its server.
  struct Ctx {
    explicit Ctx(void* user) : conn(static_cast<H2TestServer::Conn*>(user)), server(conn->server) {}
    H2TestServer::Conn* conn;
    H2TestServer* server;
  };

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Ctx c(user);
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      c.conn->streams[frame->hd.stream_id];
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    Ctx c(user);
    auto it = c.conn->streams.find(frame->hd.stream_id);
    if (it == c.conn->streams.end()) return 0;
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") it->second.method = v;
    if (n == ":path") it->second.path = v;
    return 0;
  }

  static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id,
                           const std::uint8_t* data, std::size_t len, void* user) {
    Ctx c(user);
    auto it = c.conn->streams.find(id);
    if (it != c.conn->streams.end())
      it->second.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    Ctx c(user);
    H2TestServer& s = *c.server;
    H2TestServer::Conn& conn = *c.conn;
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    auto it = conn.streams.find(frame->hd.stream_id);
    if (it == conn.streams.end()) return 0;
    auto& st = it->second;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      std::lock_guard lock(s.mutex_);
      st.request = s.requests_.size();
      s.requests_.push_back({conn.index, st.method, st.path, "", false});
      if (s.refused_ < s.script_.refuse_streams) {
        ++s.refused_;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
      }
      if (conn.index <= s.script_.goaway_connections) {
        // RFC 9113 §6.8: last-stream-id 0, nothing here was processed.
        nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
        conn.goaway = true;
        return 0;
      }
      st.counted = true;
      ++conn.open;
      ++s.open_now_;
      s.max_open_per_connection_ = std::max(s.max_open_per_connection_.load(), conn.open);
      s.max_open_ = std::max(s.max_open_.load(), s.open_now_);
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end &&
        st.counted) {
      st.complete = true;
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user) {
    Ctx c(user);
    auto it = c.conn->streams.find(id);
    if (it == c.conn->streams.end()) return 0;
    if (it->second.counted) {
      std::lock_guard lock(c.server->mutex_);
      --c.conn->open;
      --c.server->open_now_;
    }
    c.conn->streams.erase(it);
    return 0;
  }

  static ssize_t read_answer(nghttp2_session* session, std::int32_t stream_id, std::uint8_t* buf,
                             std::size_t length, std::uint32_t* flags, nghttp2_data_source* source,
                             void* user) {
    Ctx c(user);
    auto* st = static_cast<H2TestServer::Conn::Stream*>(source->ptr);
    const std::size_t n = std::min(length, st->answer.size() - st->sent);
    std::memcpy(buf, st->answer.data() + st->sent, n);
    st->sent += n;
    const bool held = c.server->script_.hold_trailers && !c.server->trailers_released_;
    if (st->sent == st->answer.size() && held) {
      if (n > 0) return static_cast<ssize_t>(n);  // the data now, the trailers later
      st->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (st->sent == st->answer.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (st->trailers != nullptr && !st->trailers->empty()) {
        // RFC 9113 §8.1: the trailing HEADERS frame ends the stream.
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv;
        for (const auto& [name, value] : *st->trailers) {
          nv.push_back({(uint8_t*)name.data(), (uint8_t*)value.data(), name.size(), value.size(),
                        NGHTTP2_NV_FLAG_NONE});
        }
        nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size());
      }
    }
    return static_cast<ssize_t>(n);
  }
};

namespace {

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

H2TestServer::H2TestServer(H2ServerScript script) : script_(script) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::runtime_error("H2TestServer: cannot listen");
  }
  port_ = ntohs(a.sin_port);
  set_nonblocking(listen_fd_);
  thread_ = std::thread([this] { run(); });
}

H2TestServer::~H2TestServer() {
  stop_ = true;
  (void)!::write(wake_[1], "x", 1);
  thread_.join();
  conns_.clear();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::vector<H2SeenRequest> H2TestServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void H2TestServer::release_trailers() {
  trailers_released_ = true;
  (void)!::write(wake_[1], "x", 1);
}

void H2TestServer::resume_deferred() {
  if (!trailers_released_) return;
  for (auto& c : conns_) {
    for (auto& [id, st] : c->streams) {
      if (!st.deferred) continue;
      st.deferred = false;
      nghttp2_session_resume_data(c->session, id);
    }
  }
}

bool H2TestServer::wait_answered(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(),
                                                  [](const auto& r) { return r.answered; })) >= n;
  });
}

void H2TestServer::run() {
  while (!stop_)
    serve_round();
}

// Answers every complete request, unless answers are held until enough
// are open at once (then, once that happened, none is held again).
void H2TestServer::answer_held() {
  {
    std::lock_guard lock(mutex_);
    if (script_.hold_until_open > 0 && max_open_ < script_.hold_until_open) return;
  }
  for (auto& c : conns_) {
    for (auto& [id, st] : c->streams) {
      if (!st.complete || st.answered) continue;
      st.answered = true;
      st.answer = st.method + " " + st.path + " " + std::to_string(st.body.size());
      const std::string conn = std::to_string(c->index);
      const std::string length = std::to_string(st.answer.size());
      std::array<nghttp2_nv, 3> nv{{
          {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(uint8_t*)"x-connection", (uint8_t*)conn.data(), 12, conn.size(), NGHTTP2_NV_FLAG_NONE},
          {(uint8_t*)"content-length", (uint8_t*)length.data(), 14, length.size(),
           NGHTTP2_NV_FLAG_NONE},
      }};
      // RFC 8297: 103 Early Hints, non-final heads before the answer.
      for (int i = 0; i < script_.early_hints; ++i) {
        const std::string link = "</hint" + std::to_string(i + 1) + ".css>; rel=preload";
        std::array<nghttp2_nv, 2> hint{{
            {(uint8_t*)":status", (uint8_t*)"103", 7, 3, NGHTTP2_NV_FLAG_NONE},
            {(uint8_t*)"link", (uint8_t*)link.data(), 4, link.size(), NGHTTP2_NV_FLAG_NONE},
        }};
        nghttp2_submit_headers(c->session, NGHTTP2_FLAG_NONE, id, nullptr, hint.data(), hint.size(),
                               nullptr);
      }
      nghttp2_data_provider provider{};
      provider.source.ptr = &st;
      st.trailers = &script_.trailers;
      provider.read_callback = &H2TestServerCallbacks::read_answer;
      nghttp2_submit_response(c->session, id, nv.data(), script_.content_length ? 3 : 2, &provider);
      {
        std::lock_guard lock(mutex_);
        requests_[st.request].body = st.body;
        requests_[st.request].answered = true;
      }
      changed_.notify_all();
    }
  }
}

void H2TestServer::serve_round() {
  std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
  for (auto& c : conns_) {
    short events = POLLIN;
    if (!c->out.empty() || nghttp2_session_want_write(c->session)) events |= POLLOUT;
    fds.push_back({c->fd, events, 0});
  }
  if (::poll(fds.data(), fds.size(), 1000) < 0) return;
  // Connections accepted below were not polled: they are read next round.
  const std::size_t polled = conns_.size();
  if (fds[0].revents & POLLIN) {
    while (true) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->index = ++connections_;
      nghttp2_session_callbacks* cb = nullptr;
      nghttp2_session_callbacks_new(&cb);
      nghttp2_session_callbacks_set_on_begin_headers_callback(
          cb, &H2TestServerCallbacks::on_begin_headers);
      nghttp2_session_callbacks_set_on_header_callback(cb, &H2TestServerCallbacks::on_header);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
          cb, &H2TestServerCallbacks::on_data_chunk);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
                                                           &H2TestServerCallbacks::on_frame_recv);
      nghttp2_session_callbacks_set_on_stream_close_callback(
          cb, &H2TestServerCallbacks::on_stream_close);
      c->server = this;
      nghttp2_session_server_new(&c->session, cb, c.get());
      nghttp2_session_callbacks_del(cb);
      const nghttp2_settings_entry settings[] = {
          {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, script_.max_concurrent_streams}};
      nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 1);
      conns_.push_back(std::move(c));
    }
  }
  if (fds[1].revents & POLLIN) {
    char b[16];
    while (::read(wake_[0], b, sizeof b) > 0) {
    }
  }
  for (std::size_t i = 0; i < polled; ++i) {
    Conn& c = *conns_[i];
    const short re = fds[i + 2].revents;
    if (re & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      while (true) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          c.dead = true;
          break;
        }
        if (n < 0) break;
        if (nghttp2_session_mem_recv(c.session, reinterpret_cast<std::uint8_t*>(buf),
                                     static_cast<std::size_t>(n)) < 0) {
          c.dead = true;
          break;
        }
      }
    }
  }
  answer_held();
  resume_deferred();
  for (auto& cp : conns_) {
    Conn& c = *cp;
    if (c.dead) continue;
    while (true) {
      const std::uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(c.session, &data);
      if (n <= 0) break;
      c.out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) c.dead = true;
        break;
      }
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    if (c.out.empty() && (c.goaway || (!nghttp2_session_want_read(c.session) &&
                                       !nghttp2_session_want_write(c.session)))) {
      c.dead = true;
    }
  }
  for (std::size_t i = 0; i < conns_.size();) {
    if (conns_[i]->dead) {
      {
        std::lock_guard lock(mutex_);
        for (auto& [id, st] : conns_[i]->streams) {
          if (st.counted) --open_now_;
        }
      }
      conns_.erase(conns_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

}  // namespace sluice::test
