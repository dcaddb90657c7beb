#include "common/semaphore.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace sandgate {
namespace {

// 12 threads through 3 units: never more than 3 holders at once, and every thread gets through.
TEST(SemaphoreTest, NeverMoreHoldersThanUnits) {
  Semaphore sem(3);
  std::atomic<int> holders{0};
  std::atomic<int> most{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        SemaphoreUnit unit(sem);
        const int now = ++holders;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        --holders;
      }
      ++done;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 12);
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(holders.load(), 0);
}

// A waiter sleeps until a unit is given back, and then gets it.
TEST(SemaphoreTest, ReleaseWakesAWaiter) {
  Semaphore sem(1);
  sem.Acquire();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    sem.Acquire();
    got = true;
    sem.Release();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(got.load());  // no unit free: still waiting
  sem.Release();
  waiter.join();
  EXPECT_TRUE(got.load());
}

// A negative count is no unit at all, never a wrap-around into many.
TEST(SemaphoreTest, NegativeCountIsZero) {
  Semaphore sem(-5);
  sem.Release();
  sem.Acquire();  // the one unit given back
  SUCCEED();
}

}  // namespace
}  // namespace sandgate
