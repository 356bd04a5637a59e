#include "middleware/blocking_work.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/event_loop.h"

namespace sluice::middleware {
namespace {

// The process's pool: started on first use, its threads live as long as the
// process (they only ever wait on the queue).
class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool();  // never destroyed: threads may outlive main's statics
    return *pool;
  }

  bool push(BlockingWork::Awaitable* job) {
    {
      std::lock_guard lock(mutex_);
      if (queue_.size() >= BlockingWork::kMaxWaiting) return false;
      queue_.push_back(job);
    }
    ready_.notify_one();
    return true;
  }

  template <typename Run>
  void serve(Run run) {
    while (true) {
      BlockingWork::Awaitable* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
      }
      run(job);
    }
  }

 private:
  Pool() {
    const unsigned n = std::clamp(std::thread::hardware_concurrency() / 2, 1u, 4u);
    for (unsigned i = 0; i < n; ++i) {
      std::thread([this] {
        serve([](BlockingWork::Awaitable* job) { job->run_and_resume(); });
      }).detach();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<BlockingWork::Awaitable*> queue_;
};

}  // namespace

BlockingWork::Awaitable::Awaitable(EventLoop& loop, std::function<bool()> work)
    : loop_(loop), work_(std::move(work)) {}

BlockingWork::Awaitable::~Awaitable() = default;

bool BlockingWork::Awaitable::await_suspend(std::coroutine_handle<> h) {
  handle_ = h;
  // Refused: resume at once with no result.
  return Pool::get().push(this);
}

// The awaitable lives in the suspended frame until the coroutine resumes.
void BlockingWork::Awaitable::run_and_resume() {
  result_ = work_();
  const std::coroutine_handle<> h = handle_;
  loop_.post([h] { h.resume(); });
}

}  // namespace sluice::middleware
