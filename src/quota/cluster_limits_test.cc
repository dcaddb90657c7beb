#include "quota/cluster_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store/group_commit.h"
#include "store/sqlite_org_fixture.h"

namespace sandgate::quota {
namespace {

using AdmitSharedTest = store::SqliteOrgFixture;

// Issue 19, target 6: admissions share the group committer's transactions. A rate refusal changes
// nothing and never fails the shared transaction, so concurrent callers
// through one committer admit exactly the per-second rate, count only what they admitted, and the
// refused ones are told 429 with the window's reset.
TEST_F(AdmitSharedTest, ConcurrentAdmissionsThroughAGroupCommitterCountOnlyWhatTheyAdmit) {
  store::GroupCommitter commits(*store_);
  const TimeMs now = 1'700'000'000'250;  // 250 ms into a second
  const int64_t day = now / 86'400'000;
  Limits limits;
  limits.daily_allowance = 1000;
  limits.rate_per_second = 5;
  limits.rate_per_hour = 100000;
  limits.disable_threshold = 1000;
  std::atomic<int> admitted{0}, limited{0}, other{0}, hook_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        ClusterAdmission a = AdmitShared(
            [&](const store::StagedWrite& w) { return commits.Write(w); }, org_, limits, day, now,
            [&](store::Tx&, int64_t) {
              ++hook_calls;
              return Status::Ok();
            });
        if (a.kind == ClusterAdmission::Kind::kAdmitted) {
          ++admitted;
        } else if (a.kind == ClusterAdmission::Kind::kRateLimited) {
          ++limited;
          EXPECT_EQ(a.refusal.status.code(), "RATE_LIMITED");
          EXPECT_EQ(a.refusal.status.message(), "Rate Limit (5/SECOND) exceeded");
          EXPECT_EQ(a.refusal.retry_after, 1);
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 5);
  EXPECT_EQ(limited.load(), 75);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Used(day), 5);  // the refused calls gave their daily count back
  // The hook ran for the admitted calls only (in a transaction run twice it runs again, but a
  // refusal never fails a shared transaction, so here it ran exactly once each).
  EXPECT_EQ(hook_calls.load(), 5);
}

// The daily allowance through the same path: exactly the allowance, the rest kQuotaFull.
TEST_F(AdmitSharedTest, TheDailyAllowanceIsExactThroughAGroupCommitter) {
  store::GroupCommitter commits(*store_);
  const int64_t day = 20000;
  Limits limits;
  limits.daily_allowance = 7;
  limits.rate_per_second = 1000;
  limits.rate_per_hour = 100000;
  limits.disable_threshold = 1000;
  std::atomic<int> admitted{0}, full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        ClusterAdmission a =
            AdmitShared([&](const store::StagedWrite& w) { return commits.Write(w); }, org_, limits,
                        day, day * 86'400'000 + 1000 * (t * 5 + i));
        if (a.kind == ClusterAdmission::Kind::kAdmitted) ++admitted;
        if (a.kind == ClusterAdmission::Kind::kQuotaFull) ++full;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 7);
  EXPECT_EQ(full.load(), 13);
  EXPECT_EQ(Used(day), 7);
}

}  // namespace
}  // namespace sandgate::quota
