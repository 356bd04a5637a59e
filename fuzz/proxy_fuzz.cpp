// Whole-proxy target: raw client bytes through a real sluice to a scripted
// backend, in one process. sluice runs as in production (proxy::Server, one
// worker thread, Http1Session and Exchange over real loopback sockets);
// the fuzzer's thread is both the client and the backend.
//
// Input: byte 0 holds flags, bytes 1-2 the client's share of the rest; the
// client sends its share, and the backend answers the N-th request head it
// receives with the N-th piece of the remainder, pieces split at kAnswerEnd
// (no piece left: it closes the connection unanswered).
//
// What must hold, besides no crash and no sanitizer report:
// - the client receives nothing, or HTTP/1.1 responses that sluice's own
//   parser reads back to back (the last one may be cut off), no more final
//   responses than requests plus one error, nothing after a response that
//   said Connection: close;
// - whatever reaches the backend is requests sluice's own parser accepts,
//   with valid bodies, and no field name with '_' (the listener drops them).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "http/chunked_decoder.h"
#include "http/parser.h"
#include "proxy/server.h"

namespace {

using sluice::http::ChunkedDecoder;
using sluice::http::Framing;
using sluice::http::HeaderField;
using sluice::http::Method;
using sluice::http::ParserLimits;
using sluice::http::ParseState;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kAnswerEnd = "|~|";
constexpr std::uint8_t kBackendCloses = 1;     // close each connection after its answer
constexpr std::uint8_t kAnswerAtHead = 2;      // answer on the head, before the body
constexpr std::uint8_t kClientKeepsOpen = 4;   // no half-close after the client's bytes
constexpr std::uint8_t kClientSendsInTwo = 8;  // the second half after a pause (5 ms quiet)
constexpr auto kIterationLimit = std::chrono::milliseconds(1'000);

// Short timeouts keep every input fast, whatever it leaves unfinished.
// Limits are small so inputs reach them. %PORT% is the scripted backend.
constexpr std::string_view kConfig = R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: {header: 50ms, idle: 20ms, request: 200ms}
    max_header_size: 4KiB
    max_request_line: 1KiB
    max_header_count: 24
    max_body_size: 8KiB
routes:
  - name: tunnel
    priority: 1
    match: {methods: [CONNECT]}
    backend: app
    allow_connect: true
  - name: answer
    match: {path_exact: /r}
    respond: {status: 200, headers: {Content-Type: text/plain}, body: "hello\n"}
  - name: moved
    match: {path: /old}
    redirect: {status: 301, path: /new}
  - name: strip
    match: {path: /rw/}
    rewrite: {strip_prefix: /rw}
    backend: app
  - name: hashed
    match: {path: /h/}
    backend: hashed
  - name: all
    match: {path: /}
    backend: app
backends:
  app:
    servers: [127.0.0.1:%PORT%]
    sticky: {cookie: srv}
    timeouts: {connect: 50ms, response: 50ms, idle: 50ms}
    retries: {attempts: 1}
    pool: {max_idle_per_server: 4, idle_timeout: 1s}
  hashed:
    balance: hash
    hash: {key: header, name: X-Key}
    servers: [127.0.0.1:%PORT%]
    timeouts: {connect: 50ms, response: 50ms, idle: 50ms}
    retries: {attempts: 0}
)";

// What the client received in this input, shown when a check fails.
std::string_view received;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "proxy_fuzz: %s\nthe client received:\n%.*s\n", what,
               static_cast<int>(received.size()), received.data());
  std::abort();
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The scripted backend's listening socket and sluice, made once per process.
struct Rig {
  int backend_listener = -1;
  sockaddr_in proxy{};
  sluice::proxy::Server* server = nullptr;  // never destroyed: exit() ends it
};

Rig& rig() {
  static Rig* r = [] {
    auto* made = new Rig;
    // Log lines are formatted (their code runs) but go nowhere.
    auto quiet =
        std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
    quiet->set_level(spdlog::level::debug);
    spdlog::set_default_logger(quiet);
    made->backend_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(made->backend_listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(made->backend_listener, 128) != 0 ||
        ::getsockname(made->backend_listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      fail("cannot open the backend's listening socket");
    }
    std::string yaml(kConfig);
    const std::string port = std::to_string(ntohs(addr.sin_port));
    for (auto at = yaml.find("%PORT%"); at != std::string::npos; at = yaml.find("%PORT%"))
      yaml.replace(at, 6, port);
    auto loaded = sluice::config::load_string(yaml, "proxy_fuzz.yaml");
    if (!loaded.ok()) {
      for (const auto& d : loaded.diagnostics)
        std::fprintf(stderr, "%s\n", d.to_string().c_str());
      fail("the fixed configuration does not load");
    }
    made->server = new sluice::proxy::Server(*loaded.config);
    std::string error;
    if (!made->server->start(error)) fail(error.c_str());
    const int fd = made->server->listening_sockets().begin()->second.front();
    len = sizeof made->proxy;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&made->proxy), &len);
    // At a normal exit the worker stops before the statics it logs through
    // are destroyed (handlers run in reverse order of registration).
    std::atexit([] {
      rig().server->request_stop(0);
      rig().server->join();
    });
    return made;
  }();
  return *r;
}

// Reads a stream of HTTP/1.1 requests as they arrive, with sluice's own
// parser: where each head and each whole message ends. After an upgrade
// or CONNECT the rest is a tunnel's, not HTTP.
class RequestStream {
 public:
  struct Event {
    bool head = false;  // a head ended (its message may have a body)
    bool end = false;   // a message ended
  };

  explicit RequestStream(ParserLimits limits) : limits_(limits) {}

  // Parses what `in` gained since the last call. False: the bytes are not
  // a request stream (an error with what sluice itself would answer 4xx).
  bool feed(const std::string& in, std::vector<Event>& events, std::vector<Method>* methods) {
    while (!opaque_ && pos_ < in.size()) {
      const std::string_view rest(in.data() + pos_, in.size() - pos_);
      if (!in_body_) {
        sluice::http::RequestParser parser(limits_, fields_);
        const ParseState s = parser.parse(rest);
        if (s == ParseState::need_more) return true;
        if (s == ParseState::error) {
          error_ = parser.error().reason;
          return false;
        }
        const auto& head = parser.head();
        for (const auto& f : head.fields) {
          if (check_fields_ && f.name.find('_') != std::string_view::npos) {
            error_ = "a field name with '_' was forwarded";
            return false;
          }
        }
        if (methods) methods->push_back(head.method);
        ++complete_heads_;
        pos_ += parser.head_bytes();
        events.push_back({true, false});
        opaque_ = head.upgrade || head.method == Method::CONNECT;
        framing_ = head.framing;
        remaining_ = head.content_length;
        decoder_ = ChunkedDecoder();
        in_body_ = framing_ == Framing::content_length || framing_ == Framing::chunked;
        if (!in_body_) events.push_back({false, true});
        continue;
      }
      if (framing_ == Framing::content_length) {
        const std::uint64_t take = std::min<std::uint64_t>(remaining_, rest.size());
        pos_ += take;
        remaining_ -= take;
      } else {
        const ChunkedDecoder::Step step = decoder_.decode(rest);
        if (step.error) {
          error_ = step.reason;
          return false;
        }
        pos_ += step.consumed;
        if (!step.done && step.consumed == 0) return true;
        remaining_ = step.done ? 0 : 1;
      }
      if (remaining_ == 0) {
        in_body_ = false;
        events.push_back({false, true});
      }
    }
    return true;
  }
  std::size_t complete_heads() const { return complete_heads_; }
  const char* error() const { return error_; }
  void check_fields() { check_fields_ = true; }

 private:
  ParserLimits limits_;
  std::array<HeaderField, 256> fields_;
  std::size_t pos_ = 0;
  bool opaque_ = false;
  bool in_body_ = false;
  bool check_fields_ = false;
  Framing framing_ = Framing::none;
  std::uint64_t remaining_ = 0;
  ChunkedDecoder decoder_;
  std::size_t complete_heads_ = 0;
  const char* error_ = "";
};

// What the client sends is read with the listener's limits, so that a head
// sluice rejects is one this reading rejects too; what reaches the backend
// with larger ones (sluice adds X-Forwarded-* fields).
constexpr ParserLimits kListenerLimits{1024, 4 * 1024, 24};
constexpr ParserLimits kForwardedLimits{64 * 1024, 64 * 1024, 256};

struct BackendConn {
  int fd = -1;
  std::string in;
  std::string out;
  std::size_t sent = 0;
  bool close_when_sent = false;
  RequestStream requests{kForwardedLimits};
};

// Checks what the client received against the requests it sent.
void check_client_view(std::string_view got, const std::vector<Method>& methods) {
  std::array<HeaderField, 256> fields;
  std::size_t finals = 0;
  while (!got.empty()) {
    const Method m = finals < methods.size() ? methods[finals] : Method::GET;
    sluice::http::ResponseParser parser(ParserLimits{64 * 1024, 64 * 1024, 256}, fields);
    const ParseState s = parser.parse(got, m);
    if (s == ParseState::need_more) return;  // cut off
    if (s == ParseState::error) fail("the client received bytes that are not a response");
    const auto& head = parser.head();
    if (head.version_minor != 1) fail("the client received a response that is not HTTP/1.1");
    got.remove_prefix(parser.head_bytes());
    if (head.status == 101) return;  // a tunnel from here on
    if (head.status < 200) continue;
    ++finals;
    if (finals > methods.size() + 1) fail("more final responses than requests");
    if (m == Method::CONNECT && head.status / 100 == 2) return;
    if (head.framing == Framing::close_delimited) return;
    if (head.framing == Framing::content_length) {
      if (got.size() < head.content_length) return;  // cut off
      got.remove_prefix(head.content_length);
    } else if (head.framing == Framing::chunked) {
      ChunkedDecoder decoder;
      while (!decoder.done()) {
        const ChunkedDecoder::Step step = decoder.decode(got);
        if (step.error) fail("the client received a broken chunked body");
        got.remove_prefix(step.consumed);
        if (!step.done && step.consumed == 0) return;  // cut off
      }
    }
    if ((!head.keep_alive || head.must_close) && !got.empty()) {
      fail("the client received bytes after a response that closed the connection");
    }
  }
}

class Iteration {
 public:
  Iteration(std::uint8_t flags, std::string_view client, std::string_view script)
      : flags_(flags), client_out_(client) {
    for (std::size_t at = 0;;) {
      const auto end = script.find(kAnswerEnd, at);
      answers_.push_back(script.substr(at, end == std::string_view::npos ? end : end - at));
      if (end == std::string_view::npos) break;
      at = end + kAnswerEnd.size();
    }
    if (answers_.size() == 1 && answers_.front().empty()) answers_.clear();
    // The first half goes at once; the rest once sluice has answered or
    // gone quiet, so the two halves arrive as two reads.
    first_part_ = (flags & kClientSendsInTwo) ? client.size() / 2 : client.size();
  }

  void run() {
    Rig& r = rig();
    drop_stale_backend_connections(r.backend_listener);
    client_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(client_, reinterpret_cast<const sockaddr*>(&r.proxy), sizeof r.proxy) != 0)
      fail("cannot connect to sluice");
    set_nonblocking(client_);
    const int one = 1;
    ::setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const auto deadline = Clock::now() + kIterationLimit;
    while (!client_eof_ && Clock::now() < deadline) {
      step(r.backend_listener);
    }
    // sluice is done with the client: what it forwarded is all queued.
    for (auto& b : backends_)
      read_backend(b);
    check();
    // Closes with a reset: no TIME_WAIT piles up over millions of inputs.
    const linger abort_close{1, 0};
    ::setsockopt(client_, SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close);
    ::close(client_);
    for (auto& b : backends_)
      if (b.fd >= 0) ::close(b.fd);
  }

 private:
  static void drop_stale_backend_connections(int listener) {
    // Connections a previous input's exchange opened after it ended.
    for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;)
      ::close(fd);
  }

  void step(int listener) {
    std::vector<pollfd> polls;
    const bool client_has_more =
        client_sent_ < (second_part_due_ ? client_out_.size() : first_part_);
    polls.push_back({client_, static_cast<short>(POLLIN | (client_has_more ? POLLOUT : 0)), 0});
    polls.push_back({listener, POLLIN, 0});
    for (auto& b : backends_) {
      const short want = b.sent < b.out.size() ? POLLIN | POLLOUT : POLLIN;
      polls.push_back({b.fd, b.fd >= 0 ? want : short(0), 0});
    }
    const int ready = ::poll(polls.data(), polls.size(), 5);
    if (ready < 0) return;
    if (ready == 0) second_part_due_ = true;
    write_client();
    read_client();
    for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0;) {
      backends_.emplace_back();
      backends_.back().fd = fd;
      backends_.back().requests.check_fields();
    }
    for (auto& b : backends_) {
      if (b.fd < 0) continue;
      read_backend(b);
      write_backend(b);
    }
  }

  void write_client() {
    const std::size_t limit = second_part_due_ ? client_out_.size() : first_part_;
    while (client_sent_ < limit) {
      const ssize_t n =
          ::send(client_, client_out_.data() + client_sent_, limit - client_sent_, MSG_NOSIGNAL);
      if (n <= 0) return;  // full, or sluice closed: what it read is what counts
      client_sent_ += static_cast<std::size_t>(n);
    }
    if (client_sent_ == client_out_.size() && !(flags_ & kClientKeepsOpen) && !half_closed_) {
      ::shutdown(client_, SHUT_WR);
      half_closed_ = true;
    }
  }

  void read_client() {
    char buf[16 * 1024];
    while (true) {
      const ssize_t n = ::recv(client_, buf, sizeof buf, 0);
      if (n > 0) {
        client_in_.append(buf, static_cast<std::size_t>(n));
        second_part_due_ = true;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) client_eof_ = true;
      return;
    }
  }

  void read_backend(BackendConn& b) {
    if (b.fd < 0) return;
    char buf[16 * 1024];
    bool eof = false;
    while (true) {
      const ssize_t n = ::recv(b.fd, buf, sizeof buf, 0);
      if (n > 0) {
        b.in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      break;
    }
    std::vector<RequestStream::Event> events;
    if (!b.requests.feed(b.in, events, nullptr)) {
      std::fprintf(stderr, "proxy_fuzz: sluice forwarded a request its parser rejects (%s):\n%s\n",
                   b.requests.error(), b.in.c_str());
      std::abort();
    }
    for (const auto& e : events) {
      if ((e.head && (flags_ & kAnswerAtHead)) || (e.end && !(flags_ & kAnswerAtHead))) answer(b);
    }
    if (eof && b.fd >= 0) {
      ::close(b.fd);  // sluice closed it (or reset it): so do we
      b.fd = -1;
    }
  }

  void answer(BackendConn& b) {
    if (b.close_when_sent) return;  // already said its last word
    if (next_answer_ >= answers_.size()) {
      b.close_when_sent = true;  // nothing left to say: hang up
      return;
    }
    b.out.append(answers_[next_answer_++]);
    if (flags_ & kBackendCloses) b.close_when_sent = true;
  }

  void write_backend(BackendConn& b) {
    while (b.fd >= 0 && b.sent < b.out.size()) {
      const ssize_t n = ::send(b.fd, b.out.data() + b.sent, b.out.size() - b.sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          ::close(b.fd);
          b.fd = -1;
        }
        return;
      }
      b.sent += static_cast<std::size_t>(n);
    }
    if (b.fd >= 0 && b.close_when_sent && b.sent == b.out.size()) {
      ::close(b.fd);
      b.fd = -1;
    }
  }

  void check() {
    // The requests the client sent, as sluice's parser reads them.
    RequestStream sent(kListenerLimits);
    std::vector<RequestStream::Event> events;
    std::vector<Method> methods;
    sent.feed(std::string(client_out_.substr(0, client_sent_)), events, &methods);
    received = client_in_;
    if (verbose()) {
      for (const auto& b : backends_)
        std::fprintf(stderr, "-- the backend received:\n%s\n", b.in.c_str());
      std::fprintf(stderr, "-- the client received:\n%s\n", client_in_.c_str());
    }
    check_client_view(client_in_, methods);
    received = {};
  }

  // PROXY_FUZZ_VERBOSE=1: show both ends of each input (to read a finding).
  static bool verbose() {
    static const bool on = std::getenv("PROXY_FUZZ_VERBOSE") != nullptr;
    return on;
  }

  std::uint8_t flags_;
  std::string_view client_out_;
  std::size_t first_part_ = 0;
  std::vector<std::string_view> answers_;
  std::size_t next_answer_ = 0;
  int client_ = -1;
  std::size_t client_sent_ = 0;
  bool half_closed_ = false;
  bool second_part_due_ = false;
  bool client_eof_ = false;
  std::string client_in_;
  std::vector<BackendConn> backends_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t client_len =
      (static_cast<std::size_t>(data[1]) << 8 | data[2]) % (rest.size() + 1);
  Iteration(flags, rest.substr(0, client_len), rest.substr(client_len)).run();
  return 0;
}
