// Task<T>: a lazily started coroutine that resumes its awaiter when done
// (symmetric transfer, so chains of co_await do not grow the stack), and
// spawn(), which runs a Task<void> detached: its frame frees itself at the end
// (a task nobody awaits ends with no continuation, and then destroys itself,
// so a detached task costs no wrapper frame).
//
// A Task may also be made done, with its result, and no coroutine at all
// (Task<T>::ready): for a function whose usual case finishes at once (a
// write the socket took whole, a pooled connection, a body piece already
// read) and that starts a coroutine only when it has to wait. A frame costs
// an allocation, a free and a resume, about a hundred instructions.
//
// Lifetime rule: a Task's frame lives until it completes; whoever co_awaits
// it keeps its arguments alive. Coroutine lambdas with captures are not used
// on the data path (the captures die before the coroutine does).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/frame_allocator.h"

namespace sluice {

template <typename T>
class Task;

namespace detail {

struct TaskPromiseBase : FramePooled {
  std::coroutine_handle<> continuation;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      if (auto next = h.promise().continuation) return next;
      h.destroy();  // started detached: nobody owns the frame
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  // The data path reports failures as Result values; an escaping exception
  // is a bug, and terminating beats resuming with a half-built state.
  void unhandled_exception() noexcept { std::terminate(); }
};

}  // namespace detail

template <typename T = void>
class [[nodiscard]] Task {
  // A ready() task keeps a small result (bool, an enum) in its one word,
  // above a set low bit (a frame's address is even): Task<bool> stays a
  // word, and every idle connection's frame holds Tasks of that size while
  // it waits (a second word there costs 16 bytes a connection).
  static constexpr bool kPacked = std::is_trivially_copyable_v<T> &&
                                  std::is_trivially_default_constructible_v<T> &&
                                  sizeof(T) <= sizeof(std::uint32_t);
  struct NoResult {};

 public:
  struct promise_type : detail::TaskPromiseBase {
    std::optional<T> value;
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    template <typename U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
  };

  Task(Task&& o) noexcept : word_(std::exchange(o.word_, 0)), result_(std::move(o.result_)) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      destroy_frame();
      word_ = std::exchange(o.word_, 0);
      result_ = std::move(o.result_);
    }
    return *this;
  }
  ~Task() { destroy_frame(); }

  // Done already, with `v`: awaiting it resumes at once.
  static Task ready(T v) {
    Task t;
    if constexpr (kPacked) {
      std::uint32_t bits = 0;
      std::memcpy(&bits, &v, sizeof(T));
      t.word_ = (static_cast<std::uintptr_t>(bits) << 8) | 1;
    } else {
      t.result_.emplace(std::move(v));
    }
    return t;
  }

  bool await_ready() const noexcept { return !has_frame(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    frame().promise().continuation = awaiter;
    return frame();
  }
  T await_resume() {
    if (has_frame()) return std::move(*frame().promise().value);
    if constexpr (kPacked) {
      const auto bits = static_cast<std::uint32_t>(word_ >> 8);
      T v;
      std::memcpy(&v, &bits, sizeof(T));
      return v;
    } else {
      return std::move(*result_);
    }
  }

 private:
  Task() = default;
  explicit Task(std::coroutine_handle<promise_type> h)
      : word_(reinterpret_cast<std::uintptr_t>(h.address())) {}
  bool has_frame() const noexcept { return word_ != 0 && (word_ & 1) == 0; }
  std::coroutine_handle<promise_type> frame() const noexcept {
    return std::coroutine_handle<promise_type>::from_address(reinterpret_cast<void*>(word_));
  }
  void destroy_frame() noexcept {
    if (has_frame()) frame().destroy();
  }

  // The coroutine's frame address; 0 once moved from; or a packed result.
  std::uintptr_t word_ = 0;
  [[no_unique_address]] std::conditional_t<kPacked, NoResult, std::optional<T>> result_;
};

template <>
class [[nodiscard]] Task<void> {
 public:
  struct promise_type : detail::TaskPromiseBase {
    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    void return_void() noexcept {}
  };

  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Task() {
    if (h_) h_.destroy();
  }

  // Done already: awaiting it resumes at once.
  static Task ready() { return Task(); }

  bool await_ready() const noexcept { return !h_; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    h_.promise().continuation = awaiter;
    return h_;
  }
  void await_resume() noexcept {}

  // Runs the task now, on the calling thread, and lets it finish on its
  // own: its frame frees itself when it ends.
  void start_detached() && {
    if (h_) std::exchange(h_, {}).resume();
  }

 private:
  Task() = default;
  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

// The return type of a coroutine that starts at once and frees its own
// frame when it ends: for the top of a task tree that is not a Task.
struct Detached {
  struct promise_type : FramePooled {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// Starts `t` now, on the calling thread, and lets it run to completion on
// its own. Whatever it needs must be owned by its frame (its arguments).
inline void spawn(Task<void> t) {
  std::move(t).start_detached();
}

}  // namespace sluice
