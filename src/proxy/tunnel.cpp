#include "proxy/tunnel.h"

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
Task<void> pump(Socket& from, Socket& to, std::span<char> buf, TunnelState& st) {
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

Detached pump_second(Socket& from, Socket& to, std::span<char> buf, TunnelState& st) {
  co_await pump(from, to, buf, st);
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

Task<void> run_tunnel(Socket& a, Socket& b, std::span<char> a_to_b, std::span<char> b_to_a,
                      std::uint64_t idle_timeout_ms) {
  TunnelState st;
  st.loop = &a.loop();
  st.idle_timeout_ms = idle_timeout_ms;
  st.last_activity_ms = st.loop->now_ms();
  pump_second(b, a, b_to_a, st);
  co_await pump(a, b, a_to_b, st);
  // The second direction references this frame: it must end first.
  co_await WaitSecond{st};
}

}  // namespace sluice::proxy
