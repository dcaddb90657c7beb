#include "store/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite_org_fixture.h"

namespace sandgate::store {
namespace {

// Usage is counted on day 7 throughout.
class GroupCommitTest : public SqliteOrgFixture {
 protected:
  int64_t Used() { return SqliteOrgFixture::Used(7); }
};

TEST_F(GroupCommitTest, ConcurrentWritesAllLandInFewerTransactions) {
  GroupCommitter gc(*store_);
  constexpr int kThreads = 8, kEach = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Status st = gc.Write([&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); });
        if (!st.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Used(), kThreads * kEach);
  // Writers that overlap share transactions (with 8 writers some always do).
  EXPECT_LT(gc.transactions(), static_cast<uint64_t>(kThreads * kEach));
}

TEST_F(GroupCommitTest, OneCallersErrorIsNotAnothers) {
  GroupCommitter gc(*store_);
  constexpr int kThreads = 6, kEach = 40;
  std::atomic<int> refused{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const bool bad = t == 0 && i % 2 == 0;  // thread 0 fails every other write
        Status st = gc.Write([&](Tx& tx) -> Status {
          if (Status s = tx.AddUsage(org_, 7, 1, 0, 1000); !s.ok()) return s;
          return bad ? Status::Invalid("NOPE", "refused") : Status::Ok();
        });
        if (bad && st.code() == "NOPE") refused++;
        if (bad != !st.ok()) wrong++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(refused.load(), kEach / 2);
  // The refused writes' usage was rolled back; everyone else's is there exactly once.
  EXPECT_EQ(Used(), kThreads * kEach - kEach / 2);
}

TEST_F(GroupCommitTest, SmallBatchesCommitEverything) {
  std::vector<std::thread> threads;
  {
    GroupCommitter gc(*store_, 4);
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 10; ++i)
          ASSERT_TRUE(gc.Write([&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); }).ok());
      });
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(Used(), 40);
}

// WriteEach (the rule workers' batches): n writes queued at once, each with its own outcome, in
// order, sharing transactions with concurrent Write callers; a refused one costs nobody else.
TEST_F(GroupCommitTest, ConcurrentWriteEachGivesEveryWriteItsOwnOutcome) {
  GroupCommitter gc(*store_);
  std::atomic<int> others_failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i)
        if (!gc.Write([&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); }).ok())
          others_failed++;
    });
  int refused = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<Status> out = gc.WriteEach(7, [&](Tx& tx, size_t i) -> Status {
      if (i == 3) return Status::Invalid("NOPE", "refused");  // rolled back, alone
      return tx.AddUsage(org_, 7, 10, 0, 1000);
    });
    ASSERT_EQ(out.size(), 7u);
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].ok(), i != 3) << i;
      refused += out[i].code() == "NOPE";
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(others_failed.load(), 0);
  EXPECT_EQ(refused, 10);
  EXPECT_EQ(Used(), 3 * 30 + 10 * 6 * 10);
}

// No thread of its own: a lone writer leads its own batch, on its own thread, and so does a
// WriteEach longer than a batch (three batches of at most 4, one after the other).
TEST_F(GroupCommitTest, ALoneWriterCommitsOnItsOwnThread) {
  GroupCommitter gc(*store_, 4);
  std::thread::id ran_on;
  ASSERT_TRUE(gc.Write([&](Tx& tx) {
                  ran_on = std::this_thread::get_id();
                  return tx.AddUsage(org_, 7, 1, 0, 1000);
                }).ok());
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  std::vector<std::thread::id> each(10);
  std::vector<Status> out = gc.WriteEach(10, [&](Tx& tx, size_t i) {
    each[i] = std::this_thread::get_id();
    return tx.AddUsage(org_, 7, 1, 0, 1000);
  });
  ASSERT_EQ(out.size(), 10u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_TRUE(out[i].ok()) << i;
    EXPECT_EQ(each[i], std::this_thread::get_id()) << i;
  }
  EXPECT_EQ(Used(), 11);
  EXPECT_EQ(gc.transactions(), 4u);  // 1 + ceil(10 / 4)
}

// Leaders hand over: 8 threads, batches of at most 2, each write waits in line behind others;
// nobody is left waiting without a leader (the test would hang) and every write lands once.
TEST_F(GroupCommitTest, ConcurrentLeadersHandOverUntilTheQueueIsEmpty) {
  GroupCommitter gc(*store_, 2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (t % 2 == 0) {
          ASSERT_TRUE(gc.Write([&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); }).ok());
        } else {
          for (const Status& st :
               gc.WriteEach(3, [&](Tx&tx, size_t) { return tx.AddUsage(org_, 7, 1, 0, 1000); }))
            ASSERT_TRUE(st.ok());
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(Used(), 4 * 25 + 4 * 25 * 3);
}

// Counts WriteAsync completions and lets a test wait for them (bounded).
class Completions {
 public:
  std::function<void(Status)> Callback(Status* into) {
    return [this, into](Status st) {
      std::lock_guard<std::mutex> lock(mu_);
      *into = std::move(st);
      ++done_;
      cv_.notify_all();
    };
  }
  // True when n completions arrived within 30 s.
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done_ >= n; });
  }
  int done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int done_ = 0;
};

// Asynchronous writes from one thread that never blocks: the pool's tasks lead the batches; each
// write completes exactly once with its own outcome (every fifth refuses), the refused ones store
// nothing, and writes share transactions.
TEST_F(GroupCommitTest, AsyncWritesCompleteOnceWithTheirOwnOutcome) {
  boost::asio::thread_pool pool(2);
  GroupCommitter gc(*store_, 16);
  constexpr int kWrites = 300;
  std::vector<StagedWrite> writes(kWrites);
  std::vector<Status> outcome(kWrites, Status::Internal("not completed"));
  std::atomic<int> calls{0};
  Completions completions;
  for (int i = 0; i < kWrites; ++i) {
    writes[i].send = [&, i](Tx& tx) -> Status {
      ++calls;
      if (Status s = tx.AddUsage(org_, 7, 1, 0, 1000); !s.ok()) return s;
      return i % 5 == 0 ? Status::Invalid("NOPE", "refused") : Status::Ok();
    };
  }
  for (int i = 0; i < kWrites; ++i)
    gc.WriteAsync(
        writes[i], completions.Callback(&outcome[i]),
        [&pool](std::function<void()> task) { boost::asio::post(pool, std::move(task)); });
  ASSERT_TRUE(completions.WaitFor(kWrites));
  pool.join();
  EXPECT_EQ(completions.done(), kWrites);  // none twice
  for (int i = 0; i < kWrites; ++i) {
    if (i % 5 == 0)
      EXPECT_EQ(outcome[i].code(), "NOPE") << i;
    else
      EXPECT_TRUE(outcome[i].ok()) << i << ": " << outcome[i].message();
  }
  EXPECT_EQ(Used(), kWrites - kWrites / 5);
  EXPECT_LT(gc.transactions(), static_cast<uint64_t>(kWrites + kWrites / 5 * 16));
  EXPECT_GE(calls.load(), kWrites);
}

// The task handed to spawn may never get a thread (a pool whose threads all wait in Write): a
// blocked caller then leads, even behind an asynchronous write, and completes it too. Here the
// spawned task is held back until both writes are done; without that rule the blocked caller
// waits for it (the test then fails after 30 s).
TEST_F(GroupCommitTest, ABlockedCallerLeadsWhenTheSpawnedTaskCannotRun) {
  GroupCommitter gc(*store_);
  std::vector<std::function<void()>> held;  // spawned tasks, run only at the end
  StagedWrite async_write;
  async_write.send = [&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); };
  Status async_outcome = Status::Internal("not completed");
  Completions completions;
  gc.WriteAsync(async_write, completions.Callback(&async_outcome),
                [&held](std::function<void()> task) { held.push_back(std::move(task)); });
  ASSERT_EQ(held.size(), 1u);  // nobody was leading: a task to lead was handed out
  auto blocking = std::async(std::launch::async, [&] {
    return gc.Write([&](Tx& tx) { return tx.AddUsage(org_, 7, 10, 0, 1000); });
  });
  const bool in_time = blocking.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  if (!in_time)
    for (auto& task : held) task();  // lets the stuck caller return: the test fails, not hangs
  ASSERT_TRUE(in_time) << "the blocked caller waited for a task that could not run";
  EXPECT_TRUE(blocking.get().ok());
  ASSERT_TRUE(completions.WaitFor(1));
  EXPECT_TRUE(async_outcome.ok());
  EXPECT_EQ(Used(), 11);
  for (auto& task : held) task();  // late: finds nothing to do
  EXPECT_EQ(completions.done(), 1);
  EXPECT_EQ(Used(), 11);
}

// Blocking writers and asynchronous ones at once, batches of at most 3, on a pool of 2: every
// write lands once and every caller returns.
TEST_F(GroupCommitTest, AsyncAndBlockingWritesTogetherAllLandOnce) {
  boost::asio::thread_pool pool(2);
  GroupCommitter gc(*store_, 3);
  constexpr int kAsync = 200, kThreads = 4, kEach = 30;
  std::vector<StagedWrite> writes(kAsync);
  std::vector<Status> outcome(kAsync, Status::Internal("not completed"));
  Completions completions;
  for (auto& w : writes) w.send = [&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        ASSERT_TRUE(gc.Write([&](Tx& tx) { return tx.AddUsage(org_, 7, 1, 0, 1000); }).ok());
    });
  for (int i = 0; i < kAsync; ++i)
    gc.WriteAsync(
        writes[i], completions.Callback(&outcome[i]),
        [&pool](std::function<void()> task) { boost::asio::post(pool, std::move(task)); });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(completions.WaitFor(kAsync));
  pool.join();
  for (const Status& st : outcome) EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Used(), kAsync + kThreads * kEach);
}

}  // namespace
}  // namespace sandgate::store
