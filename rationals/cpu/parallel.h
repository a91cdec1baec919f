// parallel_for over a thread pool: XLA's (JAX binding) or this library's own (TensorFlow, C API).
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

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

// Worker threads that live as long as the process (never joined: no teardown at exit).
class Pool {
 public:
  explicit Pool(int size) {
    for (int i = 0; i < size; ++i) std::thread([this] { loop(); }).detach();
  }
  void schedule(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

// One pool per library, with a thread per core but the caller's.
inline Pool& pool() {
  static Pool* p = new Pool(int(std::max(1u, std::thread::hardware_concurrency())) - 1);
  return *p;
}

// fn(i) for i in [0, count) on the caller and up to threads − 1 threads of pool().
template <typename F>
void pooled_for(int threads, int64_t count, const F& fn) {
  parallel_for([](auto task) { pool().schedule(std::move(task)); }, threads - 1, count, fn);
}

}  // namespace rationals
