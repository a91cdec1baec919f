// parallel_for over a caller-supplied thread pool, shared by the JAX and TensorFlow bindings.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace rationals {

// Runs fn(i) for i in [0, count) on the calling thread and on up to `helpers` tasks passed to
// schedule(task). Tasks claim indices from a shared counter; one that starts after all work is
// claimed returns at once touching only the shared state, so the caller may return as soon as
// every index is done.
template <typename Schedule, typename F>
void parallel_for(Schedule&& schedule, int64_t helpers, int64_t count, const F& fn) {
  struct State {
    std::atomic<int64_t> next{0};
    int64_t done = 0;
    std::mutex mu;
    std::condition_variable cv;
  };
  auto st = std::make_shared<State>();
  auto work = [st, count, &fn]() {
    int64_t finished = 0;
    for (int64_t i; (i = st->next.fetch_add(1)) < count; ++finished) fn(i);
    if (finished) {
      std::lock_guard<std::mutex> lock(st->mu);
      st->done += finished;
      st->cv.notify_all();
    }
  };
  for (int64_t h = 0; h < std::min(helpers, count - 1); ++h) schedule(work);
  work();
  std::unique_lock<std::mutex> lock(st->mu);
  st->cv.wait(lock, [&] { return st->done == count; });
}

}  // namespace rationals
