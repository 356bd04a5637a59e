// Runs a task on an event loop until it completes, for unit tests that
// drive awaitables directly.
#pragma once

#include <utility>

#include "core/event_loop.h"
#include "core/task.h"

namespace sluice {

inline Task<void> then_stop(EventLoop& loop, Task<void> t) {
  co_await t;
  loop.stop();
}

inline void run_to_completion(EventLoop& loop, Task<void> t) {
  spawn(then_stop(loop, std::move(t)));
  loop.run();
}

}  // namespace sluice
