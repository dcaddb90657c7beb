#include "store/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace sandgate::store
