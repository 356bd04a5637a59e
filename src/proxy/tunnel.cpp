#include "proxy/tunnel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/socket.h"
#include "core/waiter.h"

namespace sluice::proxy {
namespace {

struct TunnelState {
  EventLoop* loop = nullptr;
  std::uint64_t idle_timeout_ms = 0;
  std::uint64_t last_activity_ms = 0;
  bool second_done = false;
  Waiter done_waiter;
  Waiter* waiting = nullptr;  // set while the first direction waits for the second
};

// Copies until EOF (then half-closes `to`), an error, or idleness of the
// whole tunnel. On an error both sockets are cancelled so the other
// direction ends too.
Task<void> pump(ByteStream& from, ByteStream& to, std::span<char> buf, TunnelState& st) {
  while (true) {
    auto r = co_await from.read(buf, st.idle_timeout_ms);
    if (!r) {
      if (r.code() == Errc::closed) {
        to.shutdown_write();
        co_return;
      }
      const std::uint64_t quiet = st.loop->now_ms() - st.last_activity_ms;
      if (r.code() == Errc::timeout && quiet < st.idle_timeout_ms) continue;  // the other way moves
      break;
    }
    st.last_activity_ms = st.loop->now_ms();
    if (!co_await to.write(std::span<const char>(buf.data(), *r), st.idle_timeout_ms)) break;
  }
  from.cancel();
  to.cancel();
}

// A pipe for splice(2): its two ends, closed with it.
struct Pipe {
  int r = -1, w = -1;
  // Made only when `wanted`: a tunnel that cannot splice spends no pipe.
  explicit Pipe(bool wanted) {
    int fds[2];
    if (wanted && ::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
      r = fds[0];
      w = fds[1];
      fcntl(w, F_SETPIPE_SZ, 1 << 18);  // fewer round trips; the default (64 KiB) also works
    }
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool ok() const { return r >= 0; }
};

constexpr std::size_t kSpliceChunk = 1 << 18;

// Moves what the pipe holds into `to`; false on an error or timeout.
Task<bool> drain_pipe(Pipe& pipe, std::size_t& held, Socket& to, TunnelState& st) {
  while (held > 0) {
    const ssize_t n =
        ::splice(pipe.r, nullptr, to.fd(), nullptr, held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      held -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      to.note_write_full();
      if (!co_await to.wait_writable(st.idle_timeout_ms)) co_return false;
      continue;
    }
    co_return false;
  }
  co_return true;
}

// As pump(), through a pipe with splice(2): the bytes never enter user space.
Task<void> pump_splice(Socket& from, Socket& to, Pipe& pipe, TunnelState& st) {
  std::size_t held = 0;
  while (true) {
    const ssize_t n = ::splice(from.fd(), nullptr, pipe.w, nullptr, kSpliceChunk,
                               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      held += static_cast<std::size_t>(n);
      st.last_activity_ms = st.loop->now_ms();
      const bool drained = co_await drain_pipe(pipe, held, to, st);
      if (!drained) break;
      continue;
    }
    if (n == 0) {  // EOF: pass the FIN on
      to.shutdown_write();
      co_return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) break;
    from.note_read_drained();
    auto r = co_await from.wait_readable(st.idle_timeout_ms);
    if (!r) {
      const std::uint64_t quiet = st.loop->now_ms() - st.last_activity_ms;
      if (r.code() == Errc::timeout && quiet < st.idle_timeout_ms) continue;
      break;
    }
  }
  from.cancel();
  to.cancel();
}

Detached pump_second(ByteStream& from, ByteStream& to, std::span<char> buf, TunnelState& st,
                     Pipe* pipe) {
  if (pipe != nullptr) {
    // Only two plain sockets splice (run_tunnel checked).
    co_await pump_splice(static_cast<Socket&>(from), static_cast<Socket&>(to), *pipe, st);
  } else {
    co_await pump(from, to, buf, st);
  }
  st.second_done = true;
  if (st.waiting != nullptr) st.waiting->finish(Errc::ok);
}

struct WaitSecond {
  TunnelState& st;
  bool await_ready() const noexcept { return st.second_done; }
  bool await_suspend(std::coroutine_handle<> h) {
    st.done_waiter.begin(*st.loop, h, 0, nullptr);
    st.waiting = &st.done_waiter;
    st.done_waiter.owner_slot = &st.waiting;
    return true;
  }
  void await_resume() const noexcept {}
};

}  // namespace

Task<void> run_tunnel(ByteStream& a, ByteStream& b, std::span<char> a_to_b, std::span<char> b_to_a,
                      std::uint64_t idle_timeout_ms, bool use_splice) {
  TunnelState st;
  st.loop = &a.loop();
  st.idle_timeout_ms = idle_timeout_ms;
  st.last_activity_ms = st.loop->now_ms();
  // splice(2) moves bytes between descriptors: only when both streams are
  // plain sockets (an encrypted stream's bytes must pass through us).
  const bool plain = a.is_plain_socket() && b.is_plain_socket();
  Pipe forward_pipe(use_splice && plain), backward_pipe(use_splice && plain);
  const bool splicing = use_splice && plain && forward_pipe.ok() && backward_pipe.ok();
  pump_second(b, a, b_to_a, st, splicing ? &backward_pipe : nullptr);
  if (splicing) {
    co_await pump_splice(static_cast<Socket&>(a), static_cast<Socket&>(b), forward_pipe, st);
  } else {
    co_await pump(a, b, a_to_b, st);
  }
  // The second direction references this frame: it must end first.
  co_await WaitSecond{st};
}

}  // namespace sluice::proxy
