// Semaphore: a counting semaphore whose waiters sleep at once.
//
// std::counting_semaphore (libstdc++ 12) spins before it sleeps, calling sched_yield a dozen
// times: with more runnable threads than cores (the blocking pool waiting for the AV scan slots),
// each yield is a context switch, about four per submission (issue 19, target 3). Here a waiter
// blocks on a condition variable, and Release wakes one waiter. Thread-safe; not copyable.
#pragma once

#include <condition_variable>
#include <mutex>

namespace sandgate {

class Semaphore {
 public:
  explicit Semaphore(int count) : count_(count < 0 ? 0 : count) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Takes one unit, waiting while none is free.
  void Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return count_ > 0; });
    --count_;
  }
  // Gives one unit back and wakes one waiter, if any.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;  // guarded by mu_
};

// Holds one unit of a Semaphore for its scope.
class SemaphoreUnit {
 public:
  explicit SemaphoreUnit(Semaphore& s) : s_(s) { s_.Acquire(); }
  ~SemaphoreUnit() { s_.Release(); }
  SemaphoreUnit(const SemaphoreUnit&) = delete;
  SemaphoreUnit& operator=(const SemaphoreUnit&) = delete;

 private:
  Semaphore& s_;
};

}  // namespace sandgate
