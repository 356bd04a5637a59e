// Work too slow for a worker's event loop (a bcrypt check costs 50-100 ms
// of CPU by design) runs on a few threads of its own; the coroutine that
// asked is resumed on its own loop when the work is done, and the loop
// serves everyone else meanwhile. A bounded queue: past kMaxWaiting the
// work is refused at once, so a flood of wrong passwords cannot pile up
// unbounded work (the caller answers 503).
#pragma once

#include <coroutine>
#include <cstddef>
#include <functional>
#include <optional>

namespace sluice {
class EventLoop;
}

namespace sluice::middleware {

class BlockingWork {
 public:
  static constexpr std::size_t kMaxWaiting = 256;

  struct Job;
  class Awaitable {
   public:
    Awaitable(EventLoop& loop, std::function<bool()> work);
    ~Awaitable();
    Awaitable(const Awaitable&) = delete;
    Awaitable& operator=(const Awaitable&) = delete;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    // The work's result; nullopt when it was refused (too much waiting).
    std::optional<bool> await_resume() const { return result_; }
    // On a pool thread: does the work, then has the awaiting coroutine
    // resumed on its loop.
    void run_and_resume();

   private:
    EventLoop& loop_;
    std::function<bool()> work_;
    std::coroutine_handle<> handle_;
    std::optional<bool> result_;
  };

  // co_await BlockingWork::run(loop, fn): runs `fn` off the loop; what it
  // refers to must outlive the await (the awaiting frame's locals do).
  static Awaitable run(EventLoop& loop, std::function<bool()> work) {
    return Awaitable(loop, std::move(work));
  }
};

}  // namespace sluice::middleware
